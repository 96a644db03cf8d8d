//! Where to cut an input, so a target can feed the same bytes whole and in
//! pieces and compare.

/// Cut `data` into pieces whose lengths come from `cuts` (each byte a length,
/// 0 read as 1); the last piece takes what is left.
pub fn pieces<'a>(data: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        if at >= data.len() {
            break;
        }
        let len = usize::from(cut.max(1)).min(data.len() - at);
        out.push(&data[at..at + len]);
        at += len;
    }
    if at < data.len() || out.is_empty() {
        out.push(&data[at..]);
    }
    out
}

/// The prefix lengths worth checking: every one for short inputs, else
/// every one of the first 64 and 64 spread over the rest.
pub fn prefix_lengths(len: usize) -> Vec<usize> {
    if len <= 256 {
        return (0..len).collect();
    }
    let mut lengths: Vec<usize> = (0..64).collect();
    let step = (len - 64) / 64;
    lengths.extend((0..64).map(|i| 64 + i * step.max(1)).filter(|&l| l < len));
    lengths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_input_in_order() {
        let data = b"abcdefghij";
        let cut = pieces(data, &[3, 0, 4]);
        assert_eq!(cut, vec![&b"abc"[..], b"d", b"efgh", b"ij"]);
        assert_eq!(pieces(b"", &[]), vec![&b""[..]]);
    }
}

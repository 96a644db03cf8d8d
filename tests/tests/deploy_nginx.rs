//! nginx in front of two instances of the `echo` example, one on TCP and one
//! on a Unix socket, with the configuration docs/deploy.md installs
//! (`scripts/deploy/nginx/gateway.conf`): requests reach both; the
//! application believes X-Forwarded-* only when told to trust one proxy, and
//! then only the values nginx wrote; when an instance dies, nginx retries
//! elsewhere and clients see nothing; when it comes back, it serves again.

mod deploy_support;

use deploy_support::client::get_json;
use deploy_support::echo::{Echo, Listen};
use deploy_support::load::{Answer, Load};
use deploy_support::nginx::Nginx;
use deploy_support::ScratchDir;
use serde_json::Value;
use tests::process::free_port;

/// Two instances and nginx in front of them.
struct Site {
    nginx: Nginx,
    tcp: Echo,
    tcp_port: u16,
    unix: Echo,
    flags: &'static [&'static str],
    dir: ScratchDir,
}

impl Site {
    fn start(name: &str, flags: &'static [&'static str]) -> Site {
        let dir = ScratchDir::new(name);
        let tcp_port = free_port();
        let tcp = Echo::start(&Listen::Tcp(tcp_port), &dir.join("tcp.log"), flags);
        let socket = dir.join("app.sock");
        let unix = Echo::start(&Listen::Unix(socket.clone()), &dir.join("unix.log"), flags);
        let nginx = Nginx::start(&dir, tcp_port, &socket);
        Site {
            nginx,
            tcp,
            tcp_port,
            unix,
            flags,
            dir,
        }
    }

    /// `GET /` through `addr` with `headers` until each instance has
    /// answered once (round-robin alternates them); returns [tcp, unix].
    fn environ_from_each(
        &self,
        addr: std::net::SocketAddr,
        headers: &[(&str, &str)],
    ) -> [Value; 2] {
        let (mut tcp, mut unix) = (None, None);
        for _ in 0..20 {
            let environ = get_json(addr, "/", headers);
            match instance(&environ, self.tcp_port) {
                Instance::Tcp => tcp = Some(environ),
                Instance::Unix => unix = Some(environ),
            }
            if tcp.is_some() && unix.is_some() {
                break;
            }
        }
        [
            tcp.expect("nginx sent requests to the TCP instance"),
            unix.expect("nginx sent requests to the Unix-socket instance"),
        ]
    }
}

/// Which instance answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instance {
    Tcp,
    Unix,
}

/// The environ's SERVER_PORT tells the instances apart: the TCP one's port,
/// or "0" for the Unix socket.
fn instance(environ: &Value, tcp_port: u16) -> Instance {
    match environ["SERVER_PORT"].as_str() {
        Some("0") => Instance::Unix,
        Some(port) if port == tcp_port.to_string() => Instance::Tcp,
        other => panic!("an answer from neither instance: SERVER_PORT {other:?}"),
    }
}

/// Which instance answered a `GET /` of the load (`None` for other paths).
fn answered_by(answer: &Answer, tcp_port: u16) -> Option<Instance> {
    answer.json().map(|environ| instance(&environ, tcp_port))
}

#[test]
fn trusting_one_proxy_the_app_sees_the_client_nginx_saw_and_not_what_the_client_claims() {
    let site = Site::start("nginx-trusted", &["--trusted-proxies", "1"]);

    // Plain HTTP from 127.0.0.1, claiming to be 203.0.113.9 over https.
    let claims = [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
    ];
    for environ in site.environ_from_each(site.nginx.addr(), &claims) {
        assert_eq!(environ["HTTP_X_FORWARDED_FOR"], "203.0.113.9, 127.0.0.1");
        assert_eq!(environ["REMOTE_ADDR"], "127.0.0.1", "{environ}");
        assert_eq!(environ["url_scheme"], "http", "{environ}");
    }

    // HTTPS from 127.0.0.2, claiming plain http: the instances' own sockets
    // say 127.0.0.1 (TCP) or nothing (Unix) and http, so these values can
    // only come from the headers nginx wrote.
    let claims = [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "http"),
    ];
    for environ in site.environ_from_each(site.nginx.remote_client_addr(), &claims) {
        assert_eq!(environ["REMOTE_ADDR"], "127.0.0.2", "{environ}");
        assert_eq!(environ["url_scheme"], "https", "{environ}");
    }
}

#[test]
fn without_trusted_proxies_the_forwarded_headers_arrive_but_are_ignored() {
    let site = Site::start("nginx-untrusted", &[]);
    let claims = [("X-Forwarded-For", "203.0.113.9")];
    let [tcp, unix] = site.environ_from_each(site.nginx.remote_client_addr(), &claims);
    for environ in [&tcp, &unix] {
        assert_eq!(environ["HTTP_X_FORWARDED_FOR"], "203.0.113.9, 127.0.0.2");
        assert_eq!(environ["HTTP_X_FORWARDED_PROTO"], "https");
        assert_eq!(environ["url_scheme"], "http", "{environ}");
    }
    assert_eq!(tcp["REMOTE_ADDR"], "127.0.0.1", "nginx's own connection");
    assert!(
        unix.get("REMOTE_ADDR").is_none(),
        "a Unix socket has no peer address: {unix}"
    );
}

#[test]
fn nginx_retries_a_killed_instance_elsewhere_and_takes_it_back_when_it_returns() {
    let mut site = Site::start("nginx-failover", &["--trusted-proxies", "1"]);
    let load = Load::start(site.nginx.addr(), 4, &["/", "/sleep?ms=20"]);
    let tcp_port = site.tcp_port;
    let tcp_answered = |answer: &Answer| answered_by(answer, tcp_port) == Some(Instance::Tcp);
    let unix_answered = |answer: &Answer| answered_by(answer, tcp_port) == Some(Instance::Unix);
    load.wait_until("answers from both instances", |seen| {
        seen.answers.iter().any(tcp_answered) && seen.answers.iter().any(unix_answered)
    });

    // Phase 1: the TCP instance crashes with requests in flight.
    site.tcp.kill();
    load.set_phase(1);
    load.wait_until("100 answers after the kill", |seen| {
        seen.answers.iter().filter(|a| a.phase == 1).count() >= 100
    });

    // Phase 2: it is restarted on the same port.
    site.tcp = Echo::start(
        &Listen::Tcp(site.tcp_port),
        &site.dir.join("tcp-restarted.log"),
        site.flags,
    );
    load.set_phase(2);
    load.wait_until("the restarted instance to answer", |seen| {
        seen.answers.iter().any(|a| a.phase == 2 && tcp_answered(a))
    });
    let outcomes = load.stop();

    assert_eq!(
        outcomes.failures,
        Vec::<String>::new(),
        "every GET got a 200"
    );
    assert_eq!(outcomes.retries, 0, "no client needed to retry");
    assert!(
        !outcomes
            .answers
            .iter()
            .any(|a| a.phase == 1 && tcp_answered(a)),
        "the dead instance answered nothing"
    );
    let upstream = format!("127.0.0.1:{}", site.tcp_port);
    assert!(
        site.nginx.error_log().contains(&upstream),
        "nginx met the dead instance (and retried elsewhere): {}",
        site.nginx.error_log()
    );
    assert!(site.unix.requests_served() > 0);
}

//! Stacking: how a layer is put around an application.
//!
//! Every middleware in this crate comes in two parts:
//! - `Foo<A>`, the wrapped application. It holds the inner application `A`
//!   and is itself an [`Application`]. `Foo::new(inner, ..)` builds it;
//!   `get_ref()` and `into_inner()` give the inner application back.
//! - `FooLayer`, the layer's settings, not yet tied to an application. It
//!   implements [`Layer`], so [`ApplicationExt::wrap`] can put it around any
//!   application.
//!
//! The two forms build the same thing:
//!
//! ```
//! use gateway_spec::{AppError, Body, Environ, StartResponse};
//! use middleware::{ApplicationExt, RequestId, RequestIdLayer};
//!
//! let app = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
//!     sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
//!     Ok(Body::from("hi"))
//! };
//! let by_hand = RequestId::new(app, RequestIdLayer::default());
//! let stacked = app.wrap(RequestIdLayer::default());
//! # gateway_spec::assert_application(&by_hand);
//! # gateway_spec::assert_application(&stacked);
//! ```

use gateway_spec::Application;

/// Settings for a middleware that can be put around an application `A`.
///
/// This is tower's `Layer`: a value that turns an application into a wrapped
/// application. Each `FooLayer` in this crate implements it for every
/// `A: Application`.
pub trait Layer<A: Application> {
    /// The application this layer makes around `A`.
    type Wrapped: Application;

    /// Put this layer around `inner`.
    fn layer(self, inner: A) -> Self::Wrapped;
}

/// `.wrap(layer)` on every application, so a stack reads top to bottom:
/// each call puts one more layer around everything written before it.
///
/// ```
/// use gateway_spec::{AppError, Body, Environ, StartResponse};
/// use middleware::{AccessLogLayer, ApplicationExt, CatchPanicLayer};
///
/// let app = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
///     sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
///     Ok(Body::from("hi"))
/// };
/// // A request meets AccessLog first, then CatchPanic, then the app.
/// let stack = app
///     .wrap(CatchPanicLayer::default())
///     .wrap(AccessLogLayer::default());
/// # gateway_spec::assert_application(&stack);
/// ```
pub trait ApplicationExt: Application + Sized {
    /// Put `layer` around this application.
    fn wrap<L: Layer<Self>>(self, layer: L) -> L::Wrapped {
        layer.layer(self)
    }
}

impl<A: Application> ApplicationExt for A {}

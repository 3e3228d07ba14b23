//! Routes and their OpenAPI entries from one list: each resource module names its handlers once
//! ([`api!`]), and every handler is served at the path and method its `#[utoipa::path]` documents.
//! A handler without an entry, or an entry without a handler, stops the server at start-up.

use std::collections::BTreeSet;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;

/// The routes of one resource module, registered from its OpenAPI document.
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    doc: OpenApi,
    module: &'static str,
    registered: BTreeSet<(String, String)>,
}

impl<'a> Routes<'a> {
    pub fn new(cfg: &'a mut web::ServiceConfig, doc: OpenApi, module: &'static str) -> Self {
        Self {
            cfg,
            doc,
            module,
            registered: BTreeSet::new(),
        }
    }

    /// Serves `handler` at every path and method the document gives operation `id` (the handler's
    /// name).
    pub fn add<F, Args>(&mut self, id: &str, handler: F)
    where
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let mut found = false;
        for (path, item) in &self.doc.paths.paths {
            for (method, op) in operations(item) {
                if op.operation_id.as_deref() != Some(id) {
                    continue;
                }
                found = true;
                let route = path.strip_prefix("/rest/v1").unwrap_or_else(|| {
                    panic!("{}: {id} is documented at {path}, outside /rest/v1", self.module)
                });
                self.registered.insert((path.clone(), method.to_string()));
                self.cfg.route(route, web::method(method).to(handler.clone()));
            }
        }
        assert!(
            found,
            "{}: handler {id} has no #[utoipa::path] entry in the module's document",
            self.module
        );
    }

    /// Checks that every documented operation has its handler.
    pub fn finish(self) {
        for (path, item) in &self.doc.paths.paths {
            for (method, op) in operations(item) {
                assert!(
                    self.registered.contains(&(path.clone(), method.to_string())),
                    "{}: {method} {path} ({:?}) is documented but has no handler",
                    self.module,
                    op.operation_id
                );
            }
        }
    }
}

/// The operations of one path, with their methods.
fn operations(item: &utoipa::openapi::PathItem) -> Vec<(Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

/// A resource module's OpenAPI document (`Api`) and its routes (`configure`) from one list of
/// handlers, each with a `#[utoipa::path]`.
macro_rules! api {
    (paths: [$($handler:ident),* $(,)?], schemas: [$($schema:ty),* $(,)?] $(,)?) => {
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler),*), components(schemas($($schema),*)))]
        pub struct Api;

        $crate::mgmt::routes::api!(@configure $($handler),*);
    };
    (paths: [$($handler:ident),* $(,)?] $(,)?) => {
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler),*))]
        pub struct Api;

        $crate::mgmt::routes::api!(@configure $($handler),*);
    };
    (@configure $($handler:ident),*) => {
        /// Serves each handler at the path and method of its `#[utoipa::path]`.
        pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
            let doc = <Api as utoipa::OpenApi>::openapi();
            let mut routes = $crate::mgmt::routes::Routes::new(cfg, doc, module_path!());
            $(routes.add(stringify!($handler), $handler);)*
            routes.finish();
        }
    };
}
pub(crate) use api;

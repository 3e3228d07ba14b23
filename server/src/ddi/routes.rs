//! Which DDI resource a request names, from its method and the path segments after
//! `/{tenant}/controller/v1/{controllerId}`. `dispatch` serves each [`Route`] (its match has no
//! catch-all), each names the operations of `openapi.rs` that document it, and the tests below check
//! that every documented operation routes to the route that names it: no resource without its entry,
//! no entry without its resource.

use actix_web::http::Method;

macro_rules! routes {
    ($($(#[$doc:meta])* $route:ident => [$($operation:literal),+]),+ $(,)?) => {
        /// A DDI resource and method.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Route {
            $($(#[$doc])* $route),+
        }

        impl Route {
            /// Every route.
            #[cfg(test)]
            const ALL: &[Route] = &[$(Route::$route),+];

            /// The operations of the DDI document (`openapi.rs`, by function name) this route serves.
            #[cfg(test)]
            fn operations(self) -> &'static [&'static str] {
                match self {
                    $(Route::$route => &[$($operation),+]),+
                }
            }
        }
    };
}

routes! {
    /// `GET`/`HEAD /`: the poll.
    Root => ["root"],
    DeploymentBase => ["deployment_base"],
    DeploymentFeedback => ["deployment_feedback"],
    CancelAction => ["cancel_action"],
    CancelFeedback => ["cancel_feedback"],
    /// `PUT installedBase`: an installation the device did by itself.
    InstalledBaseReport => ["installed_base_report"],
    InstalledBase => ["installed_base"],
    ConfigData => ["config_data"],
    Artifacts => ["artifacts"],
    /// `GET`/`HEAD` of an artifact, or of its `.MD5SUM`.
    Download => ["download", "download_md5"],
    ConfirmationBase => ["confirmation_base"],
    ActivateAutoConfirm => ["activate_auto_confirm"],
    DeactivateAutoConfirm => ["deactivate_auto_confirm"],
    ConfirmationAction => ["confirmation_action"],
    ConfirmationFeedback => ["confirmation_feedback"],
}

impl Route {
    /// The path template, as the DDI document spells it (the `route` label of `/metrics`).
    pub fn template(self) -> &'static str {
        macro_rules! t {
            ($rest:literal) => {
                concat!("/{tenant}/controller/v1/{controllerId}", $rest)
            };
        }
        match self {
            Route::Root => t!(""),
            Route::DeploymentBase => t!("/deploymentBase/{actionId}"),
            Route::DeploymentFeedback => t!("/deploymentBase/{actionId}/feedback"),
            Route::CancelAction => t!("/cancelAction/{actionId}"),
            Route::CancelFeedback => t!("/cancelAction/{actionId}/feedback"),
            Route::InstalledBaseReport => t!("/installedBase"),
            Route::InstalledBase => t!("/installedBase/{actionId}"),
            Route::ConfigData => t!("/configData"),
            Route::Artifacts => t!("/softwaremodules/{softwareModuleId}/artifacts"),
            Route::Download => t!("/softwaremodules/{softwareModuleId}/artifacts/{fileName}"),
            Route::ConfirmationBase => t!("/confirmationBase"),
            Route::ActivateAutoConfirm => t!("/confirmationBase/activateAutoConfirm"),
            Route::DeactivateAutoConfirm => t!("/confirmationBase/deactivateAutoConfirm"),
            Route::ConfirmationAction => t!("/confirmationBase/{actionId}"),
            Route::ConfirmationFeedback => t!("/confirmationBase/{actionId}/feedback"),
        }
    }
}

/// Why a request names no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    /// No such resource (404).
    NotFound,
    /// The resource exists, the method does not (hawkBit answers 405).
    NotAllowed,
}

/// The route of `method` on the segments after the controller id.
pub fn route(method: &Method, rest: &[&str]) -> Result<Route, NoRoute> {
    let (get, post, put) = (
        method == Method::GET || method == Method::HEAD,
        method == Method::POST,
        method == Method::PUT,
    );
    let get_only = method == Method::GET;
    Ok(match rest {
        [] if get => Route::Root,
        ["deploymentBase", _] if get_only => Route::DeploymentBase,
        ["deploymentBase", _, "feedback"] if post => Route::DeploymentFeedback,
        ["cancelAction", _] if get_only => Route::CancelAction,
        ["cancelAction", _, "feedback"] if post => Route::CancelFeedback,
        ["installedBase"] if put => Route::InstalledBaseReport,
        ["installedBase", _] if get_only => Route::InstalledBase,
        ["configData"] if put => Route::ConfigData,
        ["softwaremodules", _, "artifacts"] if get_only => Route::Artifacts,
        ["softwaremodules", _, "artifacts", _] if get => Route::Download,
        ["confirmationBase"] if get_only => Route::ConfirmationBase,
        ["confirmationBase", "activateAutoConfirm"] if post => Route::ActivateAutoConfirm,
        ["confirmationBase", "deactivateAutoConfirm"] if post => Route::DeactivateAutoConfirm,
        ["confirmationBase", _] if get_only => Route::ConfirmationAction,
        ["confirmationBase", _, "feedback"] if post => Route::ConfirmationFeedback,
        []
        | [
            "deploymentBase" | "cancelAction" | "installedBase" | "confirmationBase",
            _,
        ]
        | [
            "deploymentBase" | "cancelAction" | "confirmationBase",
            _,
            "feedback",
        ]
        | ["installedBase" | "configData" | "confirmationBase"]
        | ["softwaremodules", _, "artifacts"]
        | ["softwaremodules", _, "artifacts", _] => return Err(NoRoute::NotAllowed),
        _ => return Err(NoRoute::NotFound),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

    use super::*;

    /// Each operation of the DDI document, as (method, path after the controller id, operation).
    fn documented() -> Vec<(Method, String, String)> {
        let doc = <super::super::openapi::Document as utoipa::OpenApi>::openapi();
        let prefix = "/{tenant}/controller/v1/{controllerId}";
        let mut out = Vec::new();
        for (path, item) in &doc.paths.paths {
            let rest = path
                .strip_prefix(prefix)
                .expect("every DDI path is below the controller");
            for (method, op) in [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::HEAD, &item.head),
                (Method::PATCH, &item.patch),
            ] {
                if let Some(op) = op {
                    let id = op.operation_id.clone().expect("operations have ids");
                    out.push((method, rest.to_owned(), id));
                }
            }
        }
        out
    }

    /// A concrete path for a documented one: each `{parameter}` becomes a value.
    fn concrete(path: &str) -> Vec<String> {
        path.split('/')
            .skip(1)
            .map(|s| {
                s.replace("{actionId}", "7")
                    .replace("{softwareModuleId}", "3")
                    .replace("{fileName}", "image.swu")
            })
            .collect()
    }

    #[test]
    fn every_documented_operation_is_routed_to_the_route_that_names_it() {
        for (method, path, id) in documented() {
            let segments = concrete(&path);
            let rest: Vec<&str> = segments.iter().map(String::as_str).collect();
            let route = route(&method, &rest)
                .unwrap_or_else(|e| panic!("{method} {path} ({id}) is documented but routes to {e:?}"));
            assert!(
                route.operations().contains(&id.as_str()),
                "{method} {path} ({id}) routes to {route:?}, which names {:?}",
                route.operations()
            );
            // The metrics label is the document's path (the `.MD5SUM` variant shares its route's).
            let documented = format!("/{{tenant}}/controller/v1/{{controllerId}}{path}");
            assert!(
                documented.strip_suffix(".MD5SUM").unwrap_or(&documented) == route.template(),
                "{route:?}'s template {} differs from the document's {documented}",
                route.template()
            );
        }
    }

    #[test]
    fn every_route_is_documented() {
        let ids: Vec<String> = documented().into_iter().map(|(_, _, id)| id).collect();
        for route in Route::ALL {
            for op in route.operations() {
                assert!(
                    ids.iter().any(|i| i == op),
                    "{route:?} names {op}, which the DDI document does not have"
                );
            }
        }
        let named: usize = Route::ALL.iter().map(|r| r.operations().len()).sum();
        assert_eq!(
            named,
            ids.len(),
            "each documented operation is named by exactly one route"
        );
    }

    #[test]
    fn other_methods_and_paths_are_refused() {
        assert_eq!(route(&Method::DELETE, &[]), Err(NoRoute::NotAllowed));
        assert_eq!(
            route(&Method::POST, &["deploymentBase", "7"]),
            Err(NoRoute::NotAllowed)
        );
        assert_eq!(route(&Method::GET, &["nothing"]), Err(NoRoute::NotFound));
        assert_eq!(route(&Method::HEAD, &[]), Ok(Route::Root));
        assert_eq!(
            route(&Method::HEAD, &["deploymentBase", "7"]),
            Err(NoRoute::NotAllowed)
        );
    }
}

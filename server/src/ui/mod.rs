//! The web UI at `/ui`: server-rendered HTML (maud) with one small CSS and one small JS file embedded
//! in the binary. Forms work without JavaScript (POST, then a 303 redirect); the script only adds
//! drag-and-drop upload with a progress bar and live refresh of pages that show changing state.
//!
//! Every page reads and writes through the same functions as the Management API, with the same
//! users and permissions: a control the user may not use is not rendered, and its POST is refused.
//!
//! `/ui/...` shares the path space with DDI's `/{tenant}/controller/v1/...`, so a tenant named `ui`
//! would collide: requests under `/ui/controller/v1/` are handed on to DDI unchanged.

mod artifacts;
mod assets;
mod audit;
mod columns;
mod config_keys;
mod device_actions;
mod device_bulk;
mod device_page;
mod device_slots;
mod devices;
mod distributions;
mod ds_types;
mod error;
mod failures;
mod field_errors;
mod filter_auto_assign;
mod filters;
mod fleet;
mod layout;
mod overview;
mod rollout_activity;
mod rollout_form;
mod rollout_form_view;
mod rollout_page;
mod rollout_retry;
mod rollouts;
mod session;
mod settings;
mod software;
mod swatch;
mod tags;
mod target_types;
mod type_form;
mod types;
mod users;

pub use error::UiError;
pub use session::Ctx;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root_redirect)).service(
        web::scope("/ui")
            .wrap(actix_web::middleware::from_fn(error::with_navigation))
            .wrap(actix_web::middleware::from_fn(crate::audit_trail::middleware))
            .app_data(web::FormConfig::default().error_handler(|e, _| {
                UiError::bad_request(format!("The form was incomplete or not valid ({e}).")).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                UiError::bad_request(format!("The parameters of this address are not valid ({e}).")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| UiError::not_found().into()))
            .route("", web::get().to(overview::page))
            .route("/assets/{file}", web::get().to(assets::serve))
            .route("/login", web::get().to(session::login_page))
            .route("/login", web::post().to(session::login))
            .route("/logout", web::post().to(session::logout))
            .configure(devices::configure)
            .configure(device_page::configure)
            .configure(fleet::configure)
            .configure(filters::configure)
            .configure(failures::configure)
            .configure(software::configure)
            .configure(artifacts::configure)
            .configure(distributions::configure)
            .configure(settings::configure)
            .configure(audit::configure)
            .configure(rollouts::configure)
            .configure(rollout_activity::configure)
            .configure(tags::configure)
            .configure(types::configure)
            .default_service(web::to(fallback)),
    );
}

async fn root_redirect() -> HttpResponse {
    layout::see_other("/ui", None)
}

/// Unknown `/ui/...` paths: DDI requests of a tenant named `ui` go on to DDI, the rest get a 404 page.
async fn fallback(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    if req.path().starts_with("/ui/controller/v1/") {
        return crate::ddi::dispatch(req, payload, state)
            .await
            .map_err(Into::into);
    }
    Err(UiError::not_found().into())
}

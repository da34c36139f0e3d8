//! The browser entry point. It only hydrates the server-rendered page: everything the
//! console does lives in `sluice-app`, so the same components run on both sides.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(sluice_app::App);
}

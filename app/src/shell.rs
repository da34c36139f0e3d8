//! The document shell and the top-level routes: the layout every page shares (top bar,
//! left navigation, the cluster banner) around one page per route.

use leptos::prelude::*;
use leptos_meta::{Link, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::{SsrMode, path};

use crate::components::cluster_banner::{ClusterBanner, provide_system_status};
use crate::components::side_nav::SideNav;
use crate::components::top_bar::TopBar;
use crate::pages::release_detail::ReleaseDetailPage;
use crate::pages::release_wizard::ReleaseWizardPage;
use crate::pages::services::ServicesPage;
use crate::pages::sign_in::SignInPage;
use crate::pages::trace_detail::TraceDetailPage;
use crate::pages::{
    application_detail::ApplicationDetailPage, applications::ApplicationsPage,
    grayscale_release::GrayscaleReleasePage, home::HomePage, not_found::NotFoundPage,
    tracing::TracingPage, traffic_management::TrafficManagementPage,
};

/// The HTML document the server renders around the app. Its Content-Security-Policy
/// allows inline scripts only with this response's nonce, which Leptos puts on every
/// script it writes (hydration, streamed data).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(value) = http::HeaderValue::from_str(&crate::domain::csp::page_policy(&nonce))
    {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Set once the wasm bundle has taken over the page; end-to-end tests wait for it so
    // their first click does not land on the inert server-rendered HTML.
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));

    view! {
        <Stylesheet id="leptos" href="/pkg/sluice.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Sluice".to_string() } else { format!("{page} · Sluice") }
        } />
        <Router>
            <AppLayout hydrated />
        </Router>
    }
}

/// Inside the router, so the shell's parts can read the URL (the selected project).
/// Routes render in order (each `<Transition>` resolved in place in the HTML stream)
/// rather than out of order, whose swapped-in chunks need JavaScript: the console must
/// be usable before, or without, the wasm bundle.
#[component]
fn AppLayout(hydrated: RwSignal<bool>) -> impl IntoView {
    // The sign-in page stands alone: nothing around it may call the cluster before anyone
    // is signed in. Reaching it and leaving it are full page loads (form posts and
    // redirects), so this is decided once.
    if use_location().pathname.get_untracked() == "/signin" {
        return view! {
            <div class="layout sign-in-layout" data-hydrated=move || hydrated.get().to_string()>
                <main class="content">
                    <Routes fallback=NotFoundPage>
                        <Route path=path!("/signin") ssr=SsrMode::InOrder view=SignInPage />
                    </Routes>
                </main>
            </div>
        }
        .into_any();
    }
    provide_system_status();
    view! {
        <div class="layout" data-hydrated=move || hydrated.get().to_string()>
            <TopBar />
            <div class="layout-body">
                <SideNav />
                <main class="content">
                    <ClusterBanner />
                    <Routes fallback=NotFoundPage>
                        <Route path=path!("/") ssr=SsrMode::InOrder view=HomePage />
                        <Route path=path!("/applications") ssr=SsrMode::InOrder view=ApplicationsPage />
                        <Route
                            path=path!("/applications/:app")
                            ssr=SsrMode::InOrder
                            view=ApplicationDetailPage
                        />
                        <Route path=path!("/grayscale-release") ssr=SsrMode::InOrder view=GrayscaleReleasePage />
                        <Route
                            path=path!("/grayscale-release/new")
                            ssr=SsrMode::InOrder
                            view=ReleaseWizardPage
                        />
                        <Route
                            path=path!("/grayscale-release/jobs/:job")
                            ssr=SsrMode::InOrder
                            view=ReleaseDetailPage
                        />
                        <Route path=path!("/traffic-management") ssr=SsrMode::InOrder view=TrafficManagementPage />
                        <Route path=path!("/services") ssr=SsrMode::InOrder view=ServicesPage />
                        <Route path=path!("/tracing") ssr=SsrMode::InOrder view=TracingPage />
                        <Route
                            path=path!("/tracing/traces/:trace")
                            ssr=SsrMode::InOrder
                            view=TraceDetailPage
                        />
                        <Route path=path!("/signin") ssr=SsrMode::InOrder view=SignInPage />
                    </Routes>
                </main>
            </div>
        </div>
    }
    .into_any()
}

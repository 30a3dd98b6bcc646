//! Entry point of the browser playground: installs the panic panel and mounts the app.

fn main() {
    livemig_web::panic_panel::install();
    yew::Renderer::<livemig_web::app::App>::new().render();
}

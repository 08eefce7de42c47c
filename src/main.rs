#[tokio::main]
async fn main() -> std::process::ExitCode {
    tessera::cli::run().await
}

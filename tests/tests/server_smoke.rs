//! The server starts in-process with port 0 and answers its health check.

use realtime_server::{Config, Server};
use realtime_tests::http_get;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_200_and_unknown_paths_404() {
    let mut config = Config::default();
    config.listeners.mqtt.bind = "127.0.0.1:0".parse().unwrap();
    config.listeners.http.bind = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(&config).await.unwrap();
    let http = server.http_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(server.run(stopped));

    let (status, body) = tokio::task::spawn_blocking(move || http_get(http, "/healthz"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = tokio::task::spawn_blocking(move || http_get(http, "/nope"))
        .await
        .unwrap();
    assert_eq!(status, 404);

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

//! The client under hostile servers and hostile input: ids that would change the route, bodies
//! without end, repeated cursors, stalled uploads, cancelled flows, cleartext secrets.

mod common;

use bytes::Bytes;
use soniox_client::{
    Client, Error,
    types::{FileId, TranscriptionId},
};

use common::{KEY, Server};

/// A client for a test server, with no retries.
fn client_for(server: &Server) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(server.url(""))
        .retry_policy(soniox_client::RetryPolicy::never())
        .build()
        .expect("the client builds")
}

#[tokio::test]
async fn dot_segment_ids_are_refused_before_sending() {
    let mut server = Server::start(vec![(204, Bytes::new())]).await;
    let client = client_for(&server);
    for id in ["..", ".", ""] {
        let job = TranscriptionId::new(id);
        let file = FileId::new(id);
        let errors = [
            client.transcriptions().delete(&job).await.map(drop),
            client.transcriptions().get(&job).await.map(drop),
            client.transcriptions().transcript(&job).await.map(drop),
            client.files().get(&file).await.map(drop),
            client.files().delete(&file).await.map(drop),
        ];
        for error in errors {
            let error = error.expect_err("a dot segment id is refused");
            assert!(
                matches!(&error, Error::InvalidId { id: given } if given == id),
                "{id:?}: {error:?}"
            );
        }
    }
    // Nothing reached the server: the first request it sees is this one.
    client
        .files()
        .delete(&FileId::new("f"))
        .await
        .expect("delete");
    assert_eq!(server.next_request().await, "/v1/files/f");
}

#[tokio::test]
async fn ids_with_dots_inside_are_encoded_not_refused() {
    let mut server = Server::start(vec![(204, Bytes::new())]).await;
    let client = client_for(&server);
    client
        .files()
        .delete(&FileId::new("../a b"))
        .await
        .expect("delete");
    assert_eq!(server.next_request().await, "/v1/files/..%2Fa%20b");
}

//! Publishing Events on the reconciled objects, in two ways:
//!
//! * [`Events::publish`], for what may happen again and again on one object (a reconcile failing every 15 s, a
//!   fetch failing): kube's [`Recorder`] folds repeats within minutes into one Event's series instead of
//!   flooding the namespace. To do that it keeps every Event it published for six minutes (about 1.6 KB of
//!   table per Event, whatever its size).
//! * [`Events::publish_once`], for what happens once (a chain message pushed, a block mined): there is nothing
//!   to fold, so nothing is kept. At a thousand new Miners, keeping their 2000 `ChainMessagePushed` Events took
//!   up to 9 MiB of the operator's memory (heaptrack, `e2e/cluster/bench.sh`).

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, Recorder, Reporter};

/// The operator's Event publisher.
pub struct Events {
    client: Client,
    reporter: Reporter,
    repeats: Recorder,
}

impl Events {
    /// A publisher through `client`, naming `reporter` as the Events' source.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        let repeats = Recorder::new(client.clone(), reporter.clone());
        Self { client, reporter, repeats }
    }

    /// Publishes `event` on `regarding`, folded with the same Event (type, reason, action) published on it in
    /// the last six minutes into one series.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        self.repeats.publish(event, regarding).await
    }

    /// Publishes `event` on `regarding` as an Event of its own, keeping nothing: for what happens only once.
    pub async fn publish_once(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        Recorder::new(self.client.clone(), self.reporter.clone()).publish(event, regarding).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use kube::runtime::events::EventType;

    fn event() -> Event {
        Event {
            type_: EventType::Normal,
            reason: "ChainMessagePushed".into(),
            note: Some("create-miner: message bafy".into()),
            action: "create-miner".into(),
            secondary: None,
        }
    }

    fn regarding() -> ObjectReference {
        ObjectReference { name: Some("m1".into()), namespace: Some("sp".into()), ..Default::default() }
    }

    fn events() -> (Events, crate::testing::Requests) {
        // The API server answers every create and patch with the Event it was given.
        let (client, requests) = crate::testing::client(|request| (200, request.body.clone()));
        (Events::new(client, Reporter { controller: "sealstack-operator".into(), instance: None }), requests)
    }

    fn methods(requests: &crate::testing::Requests) -> Vec<Method> {
        requests.lock().expect("not poisoned").iter().map(|r| r.method.clone()).collect()
    }

    #[tokio::test]
    async fn an_event_published_once_is_its_own_event_and_nothing_is_kept() {
        let (events, requests) = events();
        events.publish_once(&event(), &regarding()).await.unwrap();
        events.publish_once(&event(), &regarding()).await.unwrap();
        assert_eq!(methods(&requests), [Method::POST, Method::POST]);
    }

    #[tokio::test]
    async fn a_repeated_event_is_folded_into_a_series() {
        let (events, requests) = events();
        events.publish(&event(), &regarding()).await.unwrap();
        events.publish(&event(), &regarding()).await.unwrap();
        assert_eq!(methods(&requests), [Method::POST, Method::PATCH]);
        let series = &requests.lock().expect("not poisoned")[1].body["series"];
        assert_eq!(series["count"], 2, "{series}");
    }
}

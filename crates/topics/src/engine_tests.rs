//! The engine against a fake admin: every strategy x topic state, and the rules.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{
    AdminLimits, Change, Drift, DriftReason, FieldValue, MismatchAction, Outcome, Persistence,
    Preset, Strategy, TopicAdmin, TopicField, TopicFields, TopicOptions, TopicPolicy, TopicsError,
    TopicsErrorKind, configure,
};

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
enum Call {
    Describe,
    Create(TopicOptions),
    Update(TopicOptions),
}

/// One topic in memory; records every call.
struct FakeAdmin {
    topic: Mutex<Option<TopicOptions>>,
    limits: AdminLimits,
    calls: Mutex<Vec<Call>>,
    /// When set, `create` loses a race: this topic appears and `AlreadyExists` is returned.
    created_by_other: Option<TopicOptions>,
    /// When set, `describe` fails as an unreachable broker.
    unreachable: bool,
}

impl FakeAdmin {
    fn new(topic: Option<TopicOptions>) -> Self {
        Self {
            topic: Mutex::new(topic),
            limits: AdminLimits::new().updatable(TopicFields::ALL.without(TopicField::Persistence)),
            calls: Mutex::new(Vec::new()),
            created_by_other: None,
            unreachable: false,
        }
    }

    fn with_limits(mut self, limits: AdminLimits) -> Self {
        self.limits = limits;
        self
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn current(&self) -> Option<TopicOptions> {
        self.topic.lock().unwrap().clone()
    }

    fn updates(&self) -> Vec<TopicOptions> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Update(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    fn writes(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| !matches!(c, Call::Describe))
            .count()
    }
}

#[async_trait::async_trait]
impl TopicAdmin for FakeAdmin {
    async fn describe(&self, topic: &str) -> Result<Option<TopicOptions>, TopicsError> {
        self.calls.lock().unwrap().push(Call::Describe);
        if self.unreachable {
            return Err(TopicsError::unavailable(topic, "connection refused"));
        }
        Ok(self.current())
    }

    async fn create(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Create(options.clone()));
        let mut current = self.topic.lock().unwrap();
        if let Some(other) = &self.created_by_other {
            *current = Some(other.clone());
        }
        if current.is_some() {
            return Err(TopicsError::already_exists(topic));
        }
        *current = Some(options.clone());
        Ok(())
    }

    async fn update(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Update(options.clone()));
        let mut current = self.topic.lock().unwrap();
        let Some(current) = current.as_mut() else {
            return Err(TopicsError::broker(topic, "no such topic"));
        };
        for field in TopicField::ALL {
            if field.value_in(options).is_some() {
                field.copy(options, current);
            }
        }
        Ok(())
    }

    fn limits(&self) -> AdminLimits {
        self.limits
    }
}

fn wanted() -> TopicOptions {
    TopicOptions::new()
        .persistence(Persistence::Persistent)
        .retention(24 * HOUR)
        .max_bytes(100 << 20)
        .replicas(1)
        .description("orders")
}

/// Differs from [`wanted`] only in ways `CreateOrUpdate` may fix without opt-in.
fn drifted() -> TopicOptions {
    wanted().retention(12 * HOUR).description("old")
}

fn policy(strategy: Strategy) -> TopicPolicy {
    TopicPolicy::new(strategy)
}

fn not_updated(field: TopicField, wanted: FieldValue, actual: FieldValue) -> Drift {
    Drift::new(field, wanted, actual, DriftReason::NotUpdated)
}

fn drift_of_drifted() -> Vec<Drift> {
    vec![
        not_updated(
            TopicField::Retention,
            FieldValue::Duration(24 * HOUR),
            FieldValue::Duration(12 * HOUR),
        ),
        not_updated(
            TopicField::Description,
            FieldValue::Text("orders".into()),
            FieldValue::Text("old".into()),
        ),
    ]
}

#[derive(Debug, Clone, Copy)]
enum State {
    Missing,
    Matching,
    Drifted,
}

impl State {
    fn topic(self) -> Option<TopicOptions> {
        match self {
            State::Missing => None,
            State::Matching => Some(wanted()),
            State::Drifted => Some(drifted()),
        }
    }
}

async fn run(strategy: Strategy, state: State) -> (Result<Outcome, TopicsError>, FakeAdmin) {
    let admin = FakeAdmin::new(state.topic());
    let result = configure(&admin, "orders", &wanted(), &policy(strategy)).await;
    (result, admin)
}

#[tokio::test]
async fn create_only_creates_missing_and_never_alters_existing() {
    let (outcome, admin) = run(Strategy::CreateOnly, State::Missing).await;
    assert_eq!(outcome.unwrap(), Outcome::Created);
    assert_eq!(admin.calls(), [Call::Describe, Call::Create(wanted())]);

    let (outcome, admin) = run(Strategy::CreateOnly, State::Matching).await;
    assert_eq!(outcome.unwrap(), Outcome::Unchanged);
    assert_eq!(admin.calls(), [Call::Describe]);

    let (outcome, admin) = run(Strategy::CreateOnly, State::Drifted).await;
    assert_eq!(outcome.unwrap(), Outcome::Drifted(drift_of_drifted()));
    assert_eq!(admin.calls(), [Call::Describe]);
    assert_eq!(admin.current(), Some(drifted()));
}

#[tokio::test]
async fn create_or_update_creates_missing_and_fixes_drift_with_only_changed_fields() {
    let (outcome, admin) = run(Strategy::CreateOrUpdate, State::Missing).await;
    assert_eq!(outcome.unwrap(), Outcome::Created);
    assert_eq!(admin.calls(), [Call::Describe, Call::Create(wanted())]);

    let (outcome, admin) = run(Strategy::CreateOrUpdate, State::Matching).await;
    assert_eq!(outcome.unwrap(), Outcome::Unchanged);
    assert_eq!(admin.calls(), [Call::Describe]);

    let (outcome, admin) = run(Strategy::CreateOrUpdate, State::Drifted).await;
    let changes = vec![
        Change {
            field: TopicField::Retention,
            from: FieldValue::Duration(12 * HOUR),
            to: FieldValue::Duration(24 * HOUR),
        },
        Change {
            field: TopicField::Description,
            from: FieldValue::Text("old".into()),
            to: FieldValue::Text("orders".into()),
        },
    ];
    assert_eq!(
        outcome.unwrap(),
        Outcome::Updated {
            changes,
            drift: vec![]
        }
    );
    let only_changed = TopicOptions::new()
        .retention(24 * HOUR)
        .description("orders");
    assert_eq!(admin.updates(), [only_changed]);
    assert_eq!(admin.current(), Some(wanted()));
}

#[tokio::test]
async fn validate_only_reports_and_changes_nothing() {
    let (outcome, admin) = run(Strategy::ValidateOnly, State::Missing).await;
    assert_eq!(outcome.unwrap(), Outcome::Missing);
    assert_eq!(admin.calls(), [Call::Describe]);
    assert_eq!(admin.current(), None);

    let (outcome, admin) = run(Strategy::ValidateOnly, State::Matching).await;
    assert_eq!(outcome.unwrap(), Outcome::Unchanged);
    assert_eq!(admin.calls(), [Call::Describe]);

    let (outcome, admin) = run(Strategy::ValidateOnly, State::Drifted).await;
    assert_eq!(outcome.unwrap(), Outcome::Drifted(drift_of_drifted()));
    assert_eq!(admin.calls(), [Call::Describe]);
}

#[tokio::test]
async fn skip_never_calls_the_admin() {
    for state in [State::Missing, State::Matching, State::Drifted] {
        let (outcome, admin) = run(Strategy::Skip, state).await;
        assert_eq!(outcome.unwrap(), Outcome::Skipped, "{state:?}");
        assert!(admin.calls().is_empty(), "{state:?}: {:?}", admin.calls());
    }
}

#[tokio::test]
async fn validate_only_with_fail_names_every_drifted_field() {
    let admin = FakeAdmin::new(Some(drifted().max_bytes(1 << 30)));
    let policy = policy(Strategy::ValidateOnly).on_mismatch(MismatchAction::Fail);
    let err = configure(&admin, "orders", &wanted(), &policy)
        .await
        .unwrap_err();

    let fields = TopicFields::NONE
        .with(TopicField::Retention)
        .with(TopicField::MaxBytes)
        .with(TopicField::Description);
    assert_eq!(err.kind(), TopicsErrorKind::Drift { fields });
    assert!(!err.is_retryable());
    let message = err.to_string();
    for part in [
        "\"orders\"",
        "retention: wanted 1day, actual 12h",
        "max_bytes: wanted 100 MiB, actual 1 GiB",
        "description: wanted \"orders\", actual \"old\"",
    ] {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
    assert_eq!(admin.writes(), 0);
}

#[tokio::test]
async fn validate_only_with_fail_on_a_missing_topic_is_an_error() {
    let admin = FakeAdmin::new(None);
    let policy = policy(Strategy::ValidateOnly).on_mismatch(MismatchAction::Fail);
    let err = configure(&admin, "orders", &wanted(), &policy)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TopicsErrorKind::Missing);
    assert_eq!(admin.writes(), 0);
}

#[tokio::test]
async fn create_only_with_fail_turns_drift_into_an_error() {
    let admin = FakeAdmin::new(Some(drifted()));
    let policy = policy(Strategy::CreateOnly).on_mismatch(MismatchAction::Fail);
    let err = configure(&admin, "orders", &wanted(), &policy)
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), TopicsErrorKind::Drift { .. }));
    assert_eq!(admin.writes(), 0);
}

#[tokio::test]
async fn shrinking_limits_needs_the_destructive_opt_in() {
    let seven_days = TopicOptions::new()
        .retention(7 * 24 * HOUR)
        .max_bytes(1 << 30)
        .max_messages(1_000_000);
    let one_day = TopicOptions::new()
        .retention(24 * HOUR)
        .max_bytes(100 << 20)
        .max_messages(10_000);

    let admin = FakeAdmin::new(Some(seven_days.clone()));
    let outcome = configure(&admin, "t", &one_day, &policy(Strategy::CreateOrUpdate))
        .await
        .unwrap();
    let fields: Vec<_> = outcome.drift().iter().map(|d| d.field).collect();
    assert_eq!(
        fields,
        [
            TopicField::Retention,
            TopicField::MaxBytes,
            TopicField::MaxMessages
        ]
    );
    assert!(
        outcome
            .drift()
            .iter()
            .all(|d| d.reason == DriftReason::Destructive)
    );
    assert!(matches!(outcome, Outcome::Drifted(_)));
    assert_eq!(admin.writes(), 0);
    assert!(
        outcome.drift()[0]
            .to_string()
            .contains("set allow_destructive")
    );

    let admin = FakeAdmin::new(Some(seven_days));
    let opted_in = policy(Strategy::CreateOrUpdate).allow_destructive(true);
    let outcome = configure(&admin, "t", &one_day, &opted_in).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Updated { changes, drift } if changes.len() == 3 && drift.is_empty())
    );
    assert_eq!(admin.current(), Some(one_day));
}

#[tokio::test]
async fn growing_limits_needs_no_opt_in() {
    let admin = FakeAdmin::new(Some(TopicOptions::new().max_bytes(100 << 20)));
    let wanted = TopicOptions::new().max_bytes(crate::UNLIMITED);
    let outcome = configure(&admin, "t", &wanted, &policy(Strategy::CreateOrUpdate))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Updated { .. }), "{outcome:?}");
    assert_eq!(admin.current(), Some(wanted));
}

#[tokio::test]
async fn growing_partitions_needs_the_opt_in_and_shrinking_is_never_done() {
    let five = TopicOptions::new().partitions(5);

    let admin = FakeAdmin::new(Some(five.clone()));
    let ten = TopicOptions::new().partitions(10);
    let outcome = configure(&admin, "t", &ten, &policy(Strategy::CreateOrUpdate))
        .await
        .unwrap();
    assert_eq!(outcome.drift()[0].reason, DriftReason::Destructive);
    assert_eq!(admin.writes(), 0);

    let opted_in = policy(Strategy::CreateOrUpdate).allow_destructive(true);
    let outcome = configure(&admin, "t", &ten, &opted_in).await.unwrap();
    assert!(matches!(outcome, Outcome::Updated { .. }), "{outcome:?}");
    assert_eq!(admin.updates(), [ten]);

    let admin = FakeAdmin::new(Some(five));
    let three = TopicOptions::new().partitions(3);
    let outcome = configure(&admin, "t", &three, &opted_in).await.unwrap();
    assert_eq!(outcome.drift()[0].reason, DriftReason::Impossible);
    assert_eq!(admin.writes(), 0);
}

#[tokio::test]
async fn an_unchangeable_field_is_reported_as_drift_while_the_rest_is_updated() {
    // JetStream cannot change a stream's storage type.
    let actual = drifted().persistence(Persistence::Ephemeral);
    let admin = FakeAdmin::new(Some(actual));
    let outcome = configure(
        &admin,
        "orders",
        &wanted(),
        &policy(Strategy::CreateOrUpdate),
    )
    .await
    .unwrap();

    let Outcome::Updated { changes, drift } = outcome else {
        panic!("expected an update, got {outcome:?}");
    };
    assert_eq!(changes.len(), 2);
    assert_eq!(
        drift,
        [Drift::new(
            TopicField::Persistence,
            FieldValue::Persistence(Persistence::Persistent),
            FieldValue::Persistence(Persistence::Ephemeral),
            DriftReason::Immutable,
        )]
    );
    let update = &admin.updates()[0];
    assert_eq!(
        update.persistence,
        Persistence::Auto,
        "persistence must not be sent"
    );
    assert_eq!(admin.current().unwrap().persistence, Persistence::Ephemeral);
}

#[tokio::test]
async fn fail_action_changes_nothing_when_some_drift_cannot_be_fixed() {
    let admin = FakeAdmin::new(Some(drifted().persistence(Persistence::Ephemeral)));
    let policy = policy(Strategy::CreateOrUpdate).on_mismatch(MismatchAction::Fail);
    let err = configure(&admin, "orders", &wanted(), &policy)
        .await
        .unwrap_err();
    let TopicsErrorKind::Drift { fields } = err.kind() else {
        panic!("expected drift, got {err}");
    };
    assert_eq!(fields, TopicFields::NONE.with(TopicField::Persistence));
    assert_eq!(admin.writes(), 0);
}

#[tokio::test]
async fn an_admin_that_declares_nothing_updatable_gets_drift_not_updates() {
    let admin = FakeAdmin::new(Some(drifted())).with_limits(AdminLimits::new());
    let outcome = configure(
        &admin,
        "orders",
        &wanted(),
        &policy(Strategy::CreateOrUpdate),
    )
    .await
    .unwrap();
    assert!(
        outcome
            .drift()
            .iter()
            .all(|d| d.reason == DriftReason::Immutable)
    );
    assert_eq!(outcome.drift().len(), 2);
    assert_eq!(admin.writes(), 0);
}

#[tokio::test]
async fn too_many_replicas_fail_before_any_broker_call_and_name_the_override() {
    let single_node = AdminLimits::new().max_replicas(1);
    for strategy in [
        Strategy::CreateOnly,
        Strategy::CreateOrUpdate,
        Strategy::ValidateOnly,
    ] {
        let admin = FakeAdmin::new(None).with_limits(single_node);
        let high = TopicOptions::preset(Preset::HighThroughput);
        let err = configure(&admin, "orders", &high, &policy(strategy))
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            TopicsErrorKind::ReplicasUnavailable { wanted: 3, max: 1 }
        );
        let message = err.to_string();
        assert!(message.contains("wants 3 replicas"), "{message}");
        assert!(message.contains("at most 1"), "{message}");
        assert!(message.contains(".replicas(1)"), "{message}");
        assert!(admin.calls().is_empty());
    }

    let admin = FakeAdmin::new(None).with_limits(single_node);
    let overridden = TopicOptions::preset(Preset::HighThroughput).replicas(1);
    let outcome = configure(&admin, "orders", &overridden, &policy(Strategy::CreateOnly))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Created);
}

#[tokio::test]
async fn unset_unreported_and_auto_fields_are_never_drift() {
    // The broker does not report retention or description; persistence is
    // left to the bus default; partitions are not wanted.
    let reported = TopicOptions::new()
        .persistence(Persistence::Ephemeral)
        .max_bytes(100 << 20)
        .replicas(1)
        .partitions(4);
    let wanted = wanted().persistence(Persistence::Auto).retention(48 * HOUR);
    for strategy in [Strategy::CreateOrUpdate, Strategy::ValidateOnly] {
        let admin = FakeAdmin::new(Some(reported.clone()));
        let outcome = configure(&admin, "orders", &wanted, &policy(strategy))
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Unchanged, "{strategy:?}");
    }
}

#[tokio::test]
async fn losing_the_creation_race_judges_the_topic_that_won() {
    let mut admin = FakeAdmin::new(None);
    admin.created_by_other = Some(drifted());
    let outcome = configure(&admin, "orders", &wanted(), &policy(Strategy::CreateOnly))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Drifted(drift_of_drifted()));
    assert_eq!(
        admin.calls(),
        [Call::Describe, Call::Create(wanted()), Call::Describe]
    );
}

#[tokio::test]
async fn bad_names_and_options_fail_before_any_broker_call() {
    let admin = FakeAdmin::new(None);
    let err = configure(&admin, "bad topic", &wanted(), &TopicPolicy::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TopicsErrorKind::InvalidTopicName);
    let err = configure(
        &admin,
        "orders",
        &wanted().partitions(0),
        &TopicPolicy::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), TopicsErrorKind::InvalidOptions);
    assert!(admin.calls().is_empty());
}

#[tokio::test]
async fn an_unreachable_broker_is_a_retryable_error() {
    let mut admin = FakeAdmin::new(None);
    admin.unreachable = true;
    let admin: Arc<dyn TopicAdmin> = Arc::new(admin);
    let err = configure(admin.as_ref(), "orders", &wanted(), &TopicPolicy::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TopicsErrorKind::Unavailable);
    assert!(err.is_retryable());
}

#[test]
fn the_default_policy_creates_but_never_alters() {
    let policy = TopicPolicy::default();
    assert_eq!(policy.strategy, Strategy::CreateOnly);
    assert_eq!(policy.on_mismatch, MismatchAction::Warn);
    assert!(!policy.allow_destructive);
}

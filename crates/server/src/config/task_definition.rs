//! The ECS task definition in `deploy/` is a configuration this server accepts, complete for
//! what it is written for: several tasks behind an ALB, sharing PostgreSQL and Redis.

use std::{cell::RefCell, collections::HashMap, time::Duration};

use secrecy::ExposeSecret;
use serde_json::Value;

use super::Config;

const TASK_DEFINITION: &str = include_str!("../../../../deploy/ecs-task-definition.json");

/// What Secrets Manager would hand the task for each secret.
fn secret_value(name: &str) -> Option<String> {
    Some(match name {
        "API_KEYS" => "0123456789abcdef0123456789abcdef".to_owned(),
        "DATABASE_URL" => {
            "postgres://streambed:password@db.internal:5432/streambed?sslmode=require".to_owned()
        }
        "REDIS_URL" => "rediss://:token@master.streambed.cache.amazonaws.com:6379".to_owned(),
        _ => return None,
    })
}

/// The `name`s of a container's `environment` or `secrets`, with their `value`s.
fn entries(container: &Value, list: &str, value: &str) -> HashMap<String, String> {
    let entries = container[list].as_array().unwrap_or_else(|| panic!("`{list}` is a list"));
    entries
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e[value].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn the_ecs_task_definition_is_a_complete_configuration_with_its_secrets_injected() {
    let task: Value = serde_json::from_str(TASK_DEFINITION).expect("valid JSON");
    let container = &task["containerDefinitions"][0];
    let environment = entries(container, "environment", "value");
    let secrets = entries(container, "secrets", "valueFrom");

    let read = RefCell::new(Vec::new());
    let config = Config::from_lookup(|name| {
        read.borrow_mut().push(name.to_owned());
        environment
            .get(name)
            .cloned()
            .or_else(|| secrets.contains_key(name).then(|| secret_value(name)).flatten())
    })
    .expect("the task definition's variables are valid");

    for name in ["API_KEYS", "DATABASE_URL", "REDIS_URL"] {
        assert!(secrets[name].starts_with("arn:aws:secretsmanager:"), "{name} comes from Secrets Manager");
        assert!(!environment.contains_key(name), "{name} holds a secret: never a plain value");
    }
    let read = read.into_inner();
    for name in environment.keys().chain(secrets.keys()) {
        assert!(read.contains(name), "{name} is set but the server does not read it");
    }
    assert!(
        config.store.database_url.expose_secret().starts_with("postgres://"),
        "several tasks share one PostgreSQL (and the root filesystem is read-only: no SQLite file)"
    );
    assert!(config.redis_url.is_some(), "several tasks share Redis for resume, Stop and limits");
    assert!(config.auth.is_enabled(), "a public service needs authentication");
    let container_port = container["portMappings"][0]["containerPort"].as_u64();
    assert_eq!(container_port, Some(u64::from(config.port)));
    let stop_timeout = Duration::from_secs(container["stopTimeout"].as_u64().unwrap());
    assert!(config.shutdown.grace < stop_timeout, "answers in flight end before ECS's SIGKILL");
}

//! The ParamCache status, computed from the fetch Job and the files its log reports (pure).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sealstack_crds::conditions::{self, set_condition, status, types};
use sealstack_crds::param_cache::{ParamCachePhase, ParamCacheStatus, ParamFileStatus};

use super::progress::summary;

/// Where the fetch Job is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Not created yet.
    Missing,
    /// Running (or waiting for its pod).
    Running,
    /// Finished with exit code 0: every file verified.
    Succeeded,
    /// Out of retries; the message says why.
    Failed {
        /// The Job's failure message.
        message: String,
        /// When it failed.
        at: Option<Time>,
    },
}

/// The state of a Job, from its status conditions.
pub fn job_state(job: Option<&Job>) -> JobState {
    let Some(job) = job else { return JobState::Missing };
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref());
    let holds = |type_: &str| conditions.into_iter().flatten().find(|c| c.type_ == type_ && c.status == "True");
    if holds("Complete").is_some() {
        JobState::Succeeded
    } else if let Some(failed) = holds("Failed") {
        let message =
            failed.message.clone().or_else(|| failed.reason.clone()).unwrap_or_else(|| "fetch Job failed".into());
        JobState::Failed { message, at: failed.last_transition_time.clone() }
    } else {
        JobState::Running
    }
}

/// How long to wait before replacing a failed fetch Job: 30 s, doubling per failure, at most 10 minutes.
pub fn retry_delay(failed_fetches: u32) -> Duration {
    let exponent = failed_fetches.saturating_sub(1).min(5);
    Duration::from_secs(30 * 2u64.pow(exponent)).min(Duration::from_secs(600))
}

/// The status the ParamCache should have.
pub fn desired_status(
    previous: &ParamCacheStatus,
    generation: Option<i64>,
    claim_name: String,
    job_name: String,
    job: &JobState,
    files: Vec<ParamFileStatus>,
    now: Time,
) -> ParamCacheStatus {
    let (bytes, all_verified) = summary(&files);
    let mut next = ParamCacheStatus {
        observed_generation: generation,
        claim_name: Some(claim_name),
        job_name: Some(job_name.clone()),
        files,
        bytes_done: Some(bytes),
        bytes_total: previous.bytes_total,
        conditions: previous.conditions.clone(),
        failed_fetches: previous.failed_fetches,
        phase: None,
    };
    let (phase, ready, reason, message) = match job {
        JobState::Missing => (ParamCachePhase::Pending, status::FALSE, "Pending", "creating the fetch Job".to_owned()),
        JobState::Running => {
            (ParamCachePhase::Fetching, status::FALSE, "Fetching", format!("Job {job_name} is fetching and verifying"))
        }
        JobState::Succeeded if all_verified => {
            next.bytes_total = Some(bytes);
            next.failed_fetches = 0;
            (ParamCachePhase::Ready, status::TRUE, "Verified", format!("{} files verified", next.files.len()))
        }
        JobState::Succeeded => (
            ParamCachePhase::Failed,
            status::FALSE,
            "Unverified",
            "the fetch Job succeeded but not every file was verified (TRUST_PARAMS?)".to_owned(),
        ),
        JobState::Failed { message, .. } => {
            if previous.job_name.as_deref() != Some(&job_name) || previous.phase != Some(ParamCachePhase::Failed) {
                next.failed_fetches += 1;
            }
            (ParamCachePhase::Failed, status::FALSE, "FetchFailed", format!("Job {job_name} failed: {message}"))
        }
    };
    next.phase = Some(phase);
    set_condition(&mut next.conditions, types::READY, ready, reason, message, generation, now);
    next
}

/// Whether the ParamCache is Ready.
pub fn is_ready(status: &ParamCacheStatus) -> bool {
    conditions::is_true(&status.conditions, types::READY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::jiff::Timestamp;

    fn now() -> Time {
        Time(Timestamp::from_second(1_800_000_000).unwrap())
    }

    fn job_with(type_: &str) -> Job {
        Job {
            status: Some(JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: type_.into(),
                    status: "True".into(),
                    message: Some("BackoffLimitExceeded".into()),
                    ..JobCondition::default()
                }]),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    fn file(name: &str, verified: bool) -> ParamFileStatus {
        ParamFileStatus { name: name.into(), size: Some(100), expected_digest: "00".into(), verified }
    }

    #[test]
    fn job_states_come_from_conditions() {
        assert_eq!(job_state(None), JobState::Missing);
        assert_eq!(job_state(Some(&Job::default())), JobState::Running);
        assert_eq!(job_state(Some(&job_with("Complete"))), JobState::Succeeded);
        assert!(
            matches!(job_state(Some(&job_with("Failed"))), JobState::Failed { message, .. } if message == "BackoffLimitExceeded")
        );
    }

    #[test]
    fn ready_only_when_the_job_succeeded_and_every_file_is_verified() {
        let start = ParamCacheStatus::default();
        let running =
            desired_status(&start, Some(1), "c".into(), "j".into(), &JobState::Running, vec![file("a", true)], now());
        assert_eq!(running.phase, Some(ParamCachePhase::Fetching));
        assert!(!is_ready(&running));

        let files = vec![file("a", true), file("b", true)];
        let done = desired_status(&running, Some(1), "c".into(), "j".into(), &JobState::Succeeded, files, now());
        assert_eq!(done.phase, Some(ParamCachePhase::Ready));
        assert!(is_ready(&done));
        assert_eq!((done.bytes_done, done.bytes_total), (Some(200), Some(200)));

        let trusted = vec![file("a", true), file("b", false)];
        let unverified = desired_status(&start, Some(1), "c".into(), "j".into(), &JobState::Succeeded, trusted, now());
        assert!(!is_ready(&unverified));
    }

    #[test]
    fn failures_are_counted_once_per_job_and_back_off() {
        let failed = JobState::Failed { message: "BackoffLimitExceeded".into(), at: None };
        let start = ParamCacheStatus::default();
        let first = desired_status(&start, Some(1), "c".into(), "j".into(), &failed, vec![], now());
        assert_eq!(first.failed_fetches, 1);
        let again = desired_status(&first, Some(1), "c".into(), "j".into(), &failed, vec![], now());
        assert_eq!(again.failed_fetches, 1, "the same failed Job is not counted twice");
        let condition = conditions::find_condition(&again.conditions, types::READY).unwrap();
        assert_eq!(condition.reason, "FetchFailed");
        assert!(condition.message.contains("BackoffLimitExceeded"));

        assert_eq!(retry_delay(1), Duration::from_secs(30));
        assert_eq!(retry_delay(3), Duration::from_secs(120));
        assert_eq!(retry_delay(50), Duration::from_secs(600));
    }
}

//! The store's behaviour, the same on both backends: every test in `behaviours!` runs as
//! `sqlite::<name>` on a fresh database file and as `postgres::<name>` on a fresh database of a
//! real PostgreSQL server that this binary starts (Debian's `postgresql` package; missing, the
//! tests fail saying how to install it). Backend-specific checks live in `opening`.

mod answers;
mod batches;
mod conversations;
mod finishes;
mod harness;
mod leases;
mod opening;
mod retries;

/// Declares each behaviour once per backend.
macro_rules! behaviours {
    ($($module:ident::$name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::$module::$name(crate::harness::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::$module::$name(crate::harness::TestDb::postgres(stringify!($name))).await;
                }
            )*
        }
    };
}

behaviours! {
    conversations::a_new_conversation_is_empty_and_untitled,
    conversations::lists_are_newest_first_and_paged_by_cursor,
    conversations::a_malformed_cursor_is_refused,
    conversations::renaming_retitles_and_moves_to_the_top,
    conversations::deleting_removes_the_messages_too,
    conversations::another_owner_gets_not_found_everywhere,
    conversations::the_first_prompt_names_an_untitled_conversation,
    conversations::a_user_turn_returns_the_history_and_sets_the_model,
    conversations::limits_refuse_with_full,
    conversations::concurrent_writers_wait_their_turn,
    answers::an_answer_is_flushed_in_batches_and_finished_once,
    answers::one_write_appends_to_every_answer_in_progress,
    answers::stopped_and_failed_answers_keep_their_partial_text,
    answers::a_finished_answer_is_not_finished_again,
    answers::an_answer_to_a_deleted_conversation_is_not_found,
    answers::a_turn_stores_the_prompt_and_starts_its_answer_in_one_step,
    answers::reasoning_is_stored_once_and_read_back_with_its_blocks,
    answers::reasoning_blocks_stored_with_their_text_still_read,
    retries::a_retry_reuses_the_question_and_replaces_the_answer_that_came_to_nothing,
    retries::a_retry_that_fails_again_leaves_one_question_and_its_failure,
    retries::an_answer_with_words_or_another_question_keeps_the_turn_before,
    retries::a_message_added_without_an_answer_is_always_stored,
    batches::concurrent_turns_in_different_conversations_are_stored_together,
    batches::concurrent_turns_in_one_conversation_are_each_stored_once,
    batches::a_turn_for_a_missing_or_foreign_conversation_fails_alone_in_a_batch,
    batches::a_full_conversation_fails_alone_in_a_batch_and_is_left_unchanged,
    batches::retries_arriving_together_each_replace_their_empty_answer,
    finishes::concurrent_finishes_each_store_their_own_ending_together,
    finishes::a_finish_in_a_batch_leaves_an_interrupted_answer_so,
    leases::a_sweep_leaves_live_replicas_answers_alone,
    leases::a_sweep_never_interrupts_the_sweepers_own_answers,
    leases::an_expired_lease_lets_another_replica_interrupt,
    leases::an_answer_without_a_lease_is_interrupted,
    leases::a_turn_waits_while_another_replicas_answer_runs_in_its_conversation,
    leases::a_question_alone_waits_while_an_answer_runs,
    opening::reopening_keeps_the_data,
    conversations::one_message_reads_as_the_conversation_lists_it,
    opening::a_database_a_newer_server_migrated_is_refused_naming_its_migration,
}

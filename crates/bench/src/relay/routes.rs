//! The routes beside the stateless chat: a stored conversation's next turn (SQLite) and OpenAI's
//! `/v1/chat/completions`, at the same level on the same server. They run in rounds, a round
//! being the three routes back to back, stateless first: every route then finds the upstream
//! connections that the level's first run opened (no route pays for opening them, where
//! measuring the stored route right after that first run would favour it), and on a shared
//! machine one slow moment shows as one odd round rather than as the figure.

use anyhow::Context;
use futures_util::future::join_all;

use super::streams::{Level, Path, ms, relay_stream, summarise};
use crate::{
    proc_stats::{ProcStats, Sample},
    stats::quantile,
    upstream::Clients,
};

/// Which route the relay is asked through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// The seed's stateless `/api/chat`.
    Stateless,
    /// The next turn of a stored conversation.
    Stored,
    /// OpenAI's `/v1/chat/completions` with `stream: true`.
    OpenAi,
}

/// One route's run at one level.
pub(super) struct Measured {
    pub(super) level: Level,
    /// The server's CPU seconds per 1,000 tokens relayed.
    pub(super) cpu_per_1k: f64,
    /// The server's memory before, and after with the peak it reached (reset at the start).
    pub(super) before: Sample,
    pub(super) after: Sample,
}

/// `n` simultaneous streams through the server on `route`. Stored streams get a conversation
/// each before the measurement starts.
pub(super) async fn measure(
    proc: &ProcStats,
    n: usize,
    server: &str,
    route: Route,
    client_http2: bool,
) -> anyhow::Result<Measured> {
    let clients = Clients::of_server(n, client_http2)?;
    let client = clients.pick(0);
    let paths = match route {
        Route::Stateless => vec![Path::Stateless; n],
        Route::OpenAi => vec![Path::OpenAi; n],
        Route::Stored => {
            let create = |_| async {
                let created =
                    client.post(format!("{server}/api/conversations")).send().await?.error_for_status()?;
                let conversation: serde_json::Value = created.json().await?;
                anyhow::Ok(Path::Stored(conversation["id"].as_str().context("a conversation id")?.to_owned()))
            };
            join_all((0..n).map(create)).await.into_iter().collect::<anyhow::Result<Vec<_>>>()?
        }
    };
    let before = proc.sample()?;
    proc.reset_peak()?;
    let streams =
        paths.iter().enumerate().map(|(i, path)| relay_stream(clients.pick(i), server, "bench", path));
    let level = summarise(&join_all(streams).await);
    let after = proc.sample()?;
    let cpu_per_1k = (after.cpu_seconds - before.cpu_seconds) / (level.tokens as f64 / 1000.0);
    Ok(Measured { level, cpu_per_1k, before, after })
}

/// `rounds` rounds of the three routes at `n` streams: a table row per round (see [`print`]),
/// the time to first token added over `floor`'s.
pub(super) async fn compare(
    proc: &ProcStats,
    n: usize,
    server: &str,
    client_http2: bool,
    rounds: usize,
    floor: &Level,
) -> anyhow::Result<Vec<String>> {
    let mut rows = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let stateless = measure(proc, n, server, Route::Stateless, client_http2).await?;
        let stored = measure(proc, n, server, Route::Stored, client_http2).await?;
        let openai = measure(proc, n, server, Route::OpenAi, client_http2).await?;
        for (run, name) in [(&stateless, "stateless"), (&stored, "stored"), (&openai, "openai")] {
            run.level.report_errors(&format!("{n} streams, round {round}, {name}"));
        }
        let added = |run: &Measured, q| quantile(&run.level.ttft, q) - quantile(&floor.ttft, q);
        rows.push(format!(
            "| {n} | {round} | {} / {} / {} | {} / {} | {} / {} | {} / {} | {:.4} / {:.4} / {:.4} | {} / {} | {} |",
            stateless.level.complete,
            stored.level.complete,
            openai.level.complete,
            ms(added(&stateless, 0.5)),
            ms(added(&stateless, 0.99)),
            ms(added(&stored, 0.5)),
            ms(added(&stored, 0.99)),
            ms(added(&openai, 0.5)),
            ms(added(&openai, 0.99)),
            stateless.cpu_per_1k,
            stored.cpu_per_1k,
            openai.cpu_per_1k,
            ratio(added(&stored, 0.5), added(&stateless, 0.5)),
            ratio(stored.cpu_per_1k, stateless.cpu_per_1k),
            ratio(added(&openai, 0.5), added(&stateless, 0.5)),
        ));
    }
    Ok(rows)
}

/// `a ÷ b`, where `b` is above zero (an added time to first token can be none at all).
fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 { format!("{:.2}×", a / b) } else { "—".to_owned() }
}

/// The table of [`compare`]'s rows, if any.
pub(super) fn print(rows: &[String]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "routes, in rounds on a warm server: the same streams as a turn of a conversation in SQLite, \
         and through OpenAI's /v1/chat/completions (stream: true), beside the stateless /api/chat; \
         /v1/chat/completions stores nothing, so its ratio is the control: how far the comparison \
         moves without a store"
    );
    println!(
        "| streams | round | completed (stateless / stored / openai) | added TTFT p50 / p99 stateless (ms) \
         | added TTFT p50 / p99 stored (ms) | added TTFT p50 / p99 /v1/chat/completions (ms) \
         | CPU s per 1k tokens stateless / stored / openai | stored ÷ stateless, TTFT p50 / CPU \
         | control: openai ÷ stateless, TTFT p50 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
    println!();
}

// Replay buttons: POST to Airflow's own REST API with the signed-in user's session, so Airflow's
// permission check decides. Conf: {"liveperson_ids": [...]} or {"error_code": "..."}.
(function () {
  const cfg = JSON.parse(document.getElementById("lesync-config").textContent);
  const notice = document.getElementById("replay-result");
  const picks = () => Array.from(document.querySelectorAll("input.pick"));
  const selectedIds = () => picks().filter((box) => box.checked && !box.disabled).map((box) => box.value);
  const replaySelected = document.getElementById("replay-selected");

  function refresh() {
    if (!replaySelected) return;
    const n = selectedIds().length;
    replaySelected.disabled = n === 0;
    replaySelected.textContent = n ? `Replay selected (${n})` : "Replay selected";
  }

  function show(kind, html) {
    notice.className = `notice notice-${kind}`;
    notice.innerHTML = html;
    notice.hidden = false;
  }

  const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  // Rows whose replay was triggered: unchecked and tagged, so a second click does not queue them twice.
  function markQueued(ids, runId) {
    ids.forEach((id) => {
      const box = picks().find((candidate) => candidate.value === id);
      if (!box) return;
      box.checked = false;
      box.disabled = true;
      box.insertAdjacentHTML("afterend", ` <span class="state state-queued" title="${escape(runId)}">replay queued</span>`);
    });
    refresh();
  }

  async function trigger(conf, what) {
    show("info", `Triggering ${escape(cfg.replayDagId)} for ${escape(what)}…`);
    let response, body = {};
    try {
      response = await fetch(`${cfg.apiBase}/dags/${encodeURIComponent(cfg.replayDagId)}/dagRuns`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ logical_date: null, conf: conf }),
      });
      body = await response.json().catch(() => ({}));
    } catch (err) {
      show("error", `Replay not triggered: ${escape(err)}`);
      return;
    }
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
      show("error", `Replay not triggered (HTTP ${response.status}): ${escape(detail)}`);
      return;
    }
    const runUrl = `${cfg.replayDagUrl}/runs/${encodeURIComponent(body.dag_run_id)}`;
    show("ok", `Replay triggered for ${escape(what)}: run <a target="_top" id="replay-run-link" href="${escape(runUrl)}">` +
      `${escape(body.dag_run_id)}</a> (${escape(body.state || "queued")}).`);
    markQueued(conf.liveperson_ids || [], body.dag_run_id);
  }

  const all = document.getElementById("pick-all");
  if (all) {
    all.addEventListener("change", () => {
      picks().filter((box) => !box.disabled).forEach((box) => { box.checked = all.checked; });
      refresh();
    });
  }
  picks().forEach((box) => box.addEventListener("change", refresh));
  if (replaySelected) {
    replaySelected.addEventListener("click", () => {
      const ids = selectedIds();
      if (ids.length) trigger({ liveperson_ids: ids }, `${ids.length} selected record(s)`);
    });
  }
  document.querySelectorAll("button.replay-error").forEach((button) => {
    button.addEventListener("click", () =>
      trigger({ error_code: button.dataset.errorCode }, `every pending record with ${button.dataset.errorCode}`));
  });
  refresh();
})();

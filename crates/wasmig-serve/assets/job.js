"use strict";
// Live progress of a running job: its events arrive as Server-Sent Events from the same API
// that `curl` uses (the session cookie stands in for the token on GET requests). Text only:
// nothing received is ever parsed as HTML.
(function () {
  const section = document.getElementById("job");
  if (!section || section.dataset.state !== "running") {
    return;
  }
  const list = document.getElementById("events");
  const state = document.getElementById("state");
  const line = function (key, text) {
    let item = document.getElementById(key);
    if (!item) {
      item = document.createElement("li");
      item.id = key;
      list.appendChild(item);
    }
    item.textContent = text;
  };
  // The stream replays every event from the first: the list is rebuilt from it.
  list.replaceChildren();
  const source = new EventSource(
    "/api/jobs/" + encodeURIComponent(section.dataset.job) + "/events"
  );
  const on = function (kind, render) {
    source.addEventListener(kind, function (event) {
      render(JSON.parse(event.data));
    });
  };
  on("backed-up", function (d) {
    line("backup", "backup written to " + d.location);
  });
  on("module", function (d) {
    line("module-" + d.plan.module, d.plan.module + ": " + d.plan.action.kind);
  });
  on("step-started", function (d) {
    line("step-" + d.module + "-" + d.step, d.module + " " + d.step + ": running");
  });
  on("step-finished", function (d) {
    const outcome =
      d.error === null ? "done in " + d.duration_ms + " ms" : "failed: " + d.error;
    line("step-" + d.module + "-" + d.step, d.module + " " + d.step + ": " + outcome);
  });
  // A stream the server refuses (the job is no longer held: the server restarted) is not
  // retried by the browser: the page is drawn again from what the server knows.
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      window.location.reload();
    }
  };
  on("finished", function (d) {
    source.close();
    state.textContent = d.state;
    // The page as the server renders an ended job: its report and failures.
    window.location.reload();
  });
})();

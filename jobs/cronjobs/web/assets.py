"""The dashboard's stylesheet and script, served by the router (no build step, no CDN).

They live in a module rather than files so the wheel carries them without package-data config.
The script: the suspend dialog (a reason is required), a confirmation for resume and trigger,
the POSTs (with the CSRF token, and the bearer token when signed in), a status line announced to
screen readers, and a refresh every `data-refresh` seconds that waits while a dialog is open or
the keyboard focus is inside the content (so it never pulls the page from under a user).
"""

CSS = """
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700;
  --run: #0969da; --muted: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 0 1rem 2rem;
  max-width: 96rem; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; }
h1 { font-size: 1.35rem; } h1 a { color: inherit; text-decoration: none; }
h2 { font-size: 1.1rem; margin-top: 1.5rem; }
a { color: var(--run); }
:focus-visible { outline: 3px solid var(--run); outline-offset: 2px; }
.banner { border: 1px solid var(--warn); border-radius: 6px; padding: .5rem .75rem; }
.muted { color: var(--muted); }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.run { color: var(--run); }
.badge { font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; color: var(--muted); padding: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .45rem .5rem;
  border-bottom: 1px solid var(--line); }
th { font-size: .85rem; text-transform: uppercase; letter-spacing: .02em; }
code { font-size: .85rem; }
q.reason { font-style: italic; }
button { font: inherit; padding: .35rem .8rem; border-radius: 6px; border: 1px solid var(--line);
  background: Canvas; color: CanvasText; cursor: pointer; min-height: 2.25rem; }
button.primary { background: var(--run); color: #fff; border-color: var(--run); }
.actions { display: flex; gap: .4rem; flex-wrap: wrap; min-width: 10rem; }
dialog { border: 1px solid var(--line); border-radius: 8px; max-width: 32rem; width: 92vw; }
dialog textarea { width: 100%; font: inherit; }
dialog .buttons { display: flex; justify-content: flex-end; gap: .5rem; margin-top: .75rem; }
.fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr));
  gap: .25rem 1.5rem; }
.fields dt { font-size: .8rem; color: var(--muted); text-transform: uppercase; }
.fields dd { margin: 0 0 .5rem; }
.job-head { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; }
.advice { border-left: 4px solid var(--run); padding-left: .6rem; }
pre { overflow: auto; max-height: 28rem; padding: .75rem; border: 1px solid var(--line);
  border-radius: 6px; font-size: .8rem; }
#status:not(:empty) { border: 1px solid var(--run); border-radius: 6px; padding: .4rem .7rem; }
#status.failed { border-color: var(--bad); color: var(--bad); }
.sign-in { display: flex; gap: .4rem; align-items: center; margin: 0; }
.updated { color: var(--muted); font-size: .85rem; }
@media (max-width: 760px) {
  table, tbody, tr, td { display: block; width: 100%; }
  thead { position: absolute; left: -9999px; }
  tr { border: 1px solid var(--line); border-radius: 8px; margin-bottom: .75rem;
    padding: .25rem .5rem; }
  td { border: 0; padding: .3rem 0; display: grid; grid-template-columns: 8.5rem 1fr;
    gap: .5rem; }
  td::before { content: attr(data-label); font-size: .8rem; color: var(--muted);
    text-transform: uppercase; }
}
"""

JS = r"""
"use strict";
(function () {
  const body = document.body;
  const base = body.dataset.base;
  const readOnly = body.dataset.readOnly === "true";
  const refresh = Number(body.dataset.refresh) * 1000;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");
  const TOKEN = "cronctl-token";

  function say(text, failed) {
    status.textContent = text;
    status.classList.toggle("failed", Boolean(failed));
  }

  async function post(name, verb, payload) {
    const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    const token = sessionStorage.getItem(TOKEN);
    if (token) headers["Authorization"] = "Bearer " + token;
    const url = base + "api/cronjobs/" + encodeURIComponent(name) + "/" + verb;
    const response = await fetch(url, {
      method: "POST", headers, credentials: "same-origin", body: JSON.stringify(payload || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || response.statusText);
    return data;
  }

  function describe(verb, name, data) {
    if (verb === "trigger") return "Started Job " + data.metadata.name + " from " + name + ".";
    const change = data[0] || {};
    let text = name + ": " + (change.action || "done") + ".";
    if (change.warning) text += " " + change.warning;
    return text;
  }

  async function act(verb, name, payload) {
    say((verb === "trigger" ? "Triggering " : verb.replace(/e$/, "") + "ing ") + name + "…");
    try {
      say(describe(verb, name, await post(name, verb, payload)));
      await reload();
    } catch (error) {
      say("Could not " + verb + " " + name + ": " + error.message, true);
    }
  }

  function open(dialog, name, onConfirm) {
    dialog.querySelectorAll('[data-slot="name"]').forEach((n) => { n.textContent = name; });
    dialog.returnValue = "";
    dialog.onclose = () => { if (dialog.returnValue === "confirm") onConfirm(); };
    dialog.showModal();
  }

  const QUESTIONS = {
    resume: ["Resume %s?", "The schedule starts again; runs missed while suspended may start.", "Resume"],
    trigger: ["Trigger %s now?", "Starts a Job from the CronJob, as kubectl create job --from does.", "Trigger"],
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || readOnly) return;
    const verb = button.dataset.action;
    const name = button.dataset.name;
    if (verb === "suspend") {
      const dialog = document.getElementById("suspend-dialog");
      const reason = dialog.querySelector("textarea");
      reason.value = "";
      open(dialog, name, () => act("suspend", name, { reason: reason.value.trim() }));
      return;
    }
    const dialog = document.getElementById("confirm-dialog");
    const [question, detail, label] = QUESTIONS[verb];
    dialog.querySelector('[data-slot="question"]').textContent = question.replace("%s", name);
    dialog.querySelector('[data-slot="detail"]').textContent = detail;
    dialog.querySelector('[data-slot="verb"]').textContent = label;
    open(dialog, name, () => act(verb, name));
  });

  async function reload() {
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok) throw new Error("refresh failed: " + response.status);
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("content");
    if (fresh) document.getElementById("content").replaceChildren(...fresh.childNodes);
  }

  function busy() {
    return document.querySelector("dialog[open]") !== null
      || document.getElementById("content").contains(document.activeElement)
         && document.activeElement !== document.body;
  }

  if (refresh > 0) {
    setInterval(() => { if (!busy() && !document.hidden) reload().catch((e) => say(e.message, true)); }, refresh);
  }

  const signIn = document.getElementById("sign-in");
  const signedIn = document.getElementById("signed-in");
  function showSignIn() {
    if (!signIn) return;
    const has = Boolean(sessionStorage.getItem(TOKEN));
    signIn.hidden = has;
    signedIn.hidden = !has;
  }
  if (signIn) {
    signIn.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN, signIn.elements.token.value.trim());
      signIn.reset();
      showSignIn();
      say("Signed in: the token is kept in this tab only.");
    });
    document.getElementById("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN);
      showSignIn();
      say("Signed out.");
    });
    showSignIn();
  }
})();
"""

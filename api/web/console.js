// Department console: sign in with the department key, upload, manage own
// documents, answer the unanswered queue, and see the statistics.
import { ApiError, STATUS, api, docName, el, errorDetail, formatTime, quoteTitle, say, statusBadge } from "/static/common.js";
import { dailyChart, fillDays, topicsChart } from "/static/chart.js";

const KEY = "policybot.department_key";
const $ = (id) => document.getElementById(id);
const REASONS = { refused: "未能回答", unhelpful: "群众反馈没帮助" };

let key = sessionStorage.getItem(KEY);
let myDocuments = [];

function call(path, options = {}) {
  return api(path, { ...options, key }).catch((err) => {
    if (err.status === 401) signOut(err.message);
    throw err;
  });
}

// -- sign in ------------------------------------------------------------------

async function signIn(candidate) {
  const me = await api("/api/v1/whoami", { key: candidate });
  key = candidate;
  sessionStorage.setItem(KEY, candidate);
  $("who").textContent = `${me.name}${me.is_admin ? "（管理员，可代各部门操作）" : ""}`;
  $("sign-in").hidden = true;
  $("workspace").hidden = false;
  $("sign-out").hidden = false;
  showTab("upload");
  await loadDocuments();
}

function signOut(message = "") {
  key = null;
  sessionStorage.removeItem(KEY);
  $("workspace").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("who").textContent = "上传政策和解读，答复群众未解决的问题";
  // Nothing of the last department stays on the page for the next one.
  myDocuments = [];
  for (const id of ["documents", "queue", "totals", "days-chart", "topics-chart", "hot"]) $(id).replaceChildren();
  uploadForm.reset();
  showKindFields();
  say($("upload-result"), "");
  say($("sign-in-error"), message, "error");
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const candidate = $("key").value.trim();
  say($("sign-in-error"), "");
  try {
    await signIn(candidate);
    $("key").value = "";
  } catch (err) {
    say($("sign-in-error"), err.message, "error");
  }
});
$("sign-out").addEventListener("click", () => signOut());

// -- tabs ---------------------------------------------------------------------

const loaders = { documents: loadDocuments, queue: loadQueue, stats: loadStats, upload: () => null };

function showTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    $(`tab-${tab.dataset.tab}`).hidden = tab.dataset.tab !== name;
  }
  return loaders[name]();
}

for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => showTab(tab.dataset.tab));
}

// -- upload -------------------------------------------------------------------

const uploadForm = $("upload-form");

function uploadKind() {
  return uploadForm.elements.kind.value;
}

function showKindFields() {
  $("policy-fields").hidden = uploadKind() !== "policy";
  $("interpretation-fields").hidden = uploadKind() !== "interpretation";
}

uploadForm.addEventListener("change", (event) => event.target.name === "kind" && showKindFields());

/** XHR rather than fetch: only XHR reports upload progress. */
function send(url, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    if (typeof body === "string") xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    xhr.upload.addEventListener("load", () => onProgress(1));
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (err) {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, errorDetail(xhr.status, data)));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "网络连接失败，请检查网络后重试。")));
    xhr.send(body);
  });
}

uploadForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  const result = $("upload-result");
  const pasted = $("interp-text").value.trim();
  let body = new FormData();
  let url = "/api/v1/documents";
  if (uploadKind() === "policy") {
    if (!file) return say(result, "请选择要上传的政策文件。", "error");
    body.append("file", file);
    for (const input of $("policy-fields").querySelectorAll("input, select")) {
      if (input.value.trim()) body.append(input.name, input.value.trim());
    }
  } else {
    const target = $("target-doc").value;
    if (!target) return say(result, "请先选择要解读的文件。", "error");
    url = `/api/v1/documents/${encodeURIComponent(target)}/interpretations`;
    if (file) {
      body.append("file", file);
    } else if (pasted && $("interp-title").value.trim()) {
      body = JSON.stringify({ title: $("interp-title").value.trim(), text: pasted });
    } else {
      return say(result, "请选择解读文件，或填写解读标题并粘贴解读全文。", "error");
    }
  }
  const bar = $("upload-progress");
  const percent = $("upload-percent");
  bar.hidden = false;
  bar.value = 0;
  $("upload-button").disabled = true;
  say(result, "");
  const progress = (fraction) => {
    bar.value = Math.round(fraction * 100);
    percent.textContent = fraction < 1 ? `已上传 ${bar.value}%` : "已上传 100%，正在解析…";
  };
  try {
    const data = await send(url, body, progress);
    progress(1);
    percent.textContent = "已上传 100%";
    say(result, uploadKind() === "policy"
      ? `已上传${docName(data)}，识别出 ${data.articles} 条条文，起草部门：${data.drafting_department || "—"}。`
      : `已上传解读${quoteTitle(data.title)}，共 ${data.sections} 个段落，解读部门：${data.department}。`, "ok");
    uploadForm.reset();
    showKindFields();
    await loadDocuments();
  } catch (err) {
    percent.textContent = "";
    bar.hidden = true;
    if (err.status === 401) signOut(err.message);
    say(result, err.message, "error");
  } finally {
    $("upload-button").disabled = false;
  }
});

// -- own documents ------------------------------------------------------------

async function loadDocuments() {
  try {
    const data = await call("/api/v1/documents", { params: { mine: "true", status: "all" } });
    myDocuments = data.documents;
    say($("documents-note"), myDocuments.length ? "" : "本部门还没有上传文件。");
  } catch (err) {
    say($("documents-note"), err.message, "error");
    return;
  }
  $("documents").replaceChildren(...myDocuments.map(renderDocument));
  filterDocuments();
  const options = myDocuments.map((d) => el("option", { value: d.id }, docName(d)));
  $("target-doc").replaceChildren(el("option", { value: "" }, "请选择"), ...options);
}

function renderDocument(doc) {
  const select = el("select", { "aria-label": "状态" },
    ["current", "amended", "repealed", "expired"].map((s) => el("option", { value: s, selected: s === doc.status }, STATUS[s])));
  const expiry = el("input", { type: "date", value: doc.expiry_date || "", "aria-label": "有效期至" });
  const note = el("span", { class: "muted", role: "status" });
  const item = el("li", { class: "doc", "data-id": doc.id },
    el("div", {}, el("strong", { class: "doc-title" }, docName(doc)), " ", statusBadge(doc.status)),
    // Each fact on its own unbroken run, so a date never wraps in the middle on a phone.
    el("p", { class: "muted facts" },
      ...[doc.drafting_department && `起草部门：${doc.drafting_department}`, doc.publish_date && `发布日期：${doc.publish_date}`,
        doc.effective_date && `施行日期：${doc.effective_date}`].filter(Boolean).map((fact) => el("span", { class: "fact" }, fact))),
    el("div", { class: "row" },
      el("label", { class: "inline" }, "状态", select),
      el("label", { class: "inline" }, "有效期至", expiry),
      el("button", { type: "button", class: "save", onclick: () => save(doc, { status: select.value, expiry_date: expiry.value || null }, item, note) }, "保存"),
      el("button", { type: "button", class: "ghost delete", onclick: () => remove(doc, item, note) }, "删除"),
      note));
  return item;
}

/** PATCH only what changed; a past expiry date makes the document expired (the API decides). */
async function save(doc, wanted, item, note) {
  const changes = Object.fromEntries(Object.entries(wanted).filter(([name, value]) => (doc[name] || null) !== value));
  if (!Object.keys(changes).length) {
    note.textContent = "没有改动。";
    return;
  }
  if (changes.status === "repealed" && !window.confirm(`确定将${docName(doc)}标记为已废止？废止后机器人将不再把它作为现行依据。`)) return;
  try {
    const updated = await call(`/api/v1/documents/${encodeURIComponent(doc.id)}`, { method: "PATCH", json: changes });
    myDocuments = myDocuments.map((d) => (d.id === updated.id ? updated : d));
    const fresh = renderDocument(updated);
    item.replaceWith(fresh);
    fresh.querySelector("[role=status]").textContent = `已保存：${STATUS[updated.status]}${updated.expiry_date ? `，有效期至 ${updated.expiry_date}` : ""}。`;
  } catch (err) {
    note.textContent = err.message;
  }
}

async function remove(doc, item, note) {
  if (!window.confirm(`确定删除${docName(doc)}？删除后它的条文和解读立即从检索和问答中移除，且不能恢复。`)) return;
  try {
    await call(`/api/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
    myDocuments = myDocuments.filter((d) => d.id !== doc.id);
    item.replaceWith(el("li", { class: "doc removed", role: "status" }, `已删除${docName(doc)}。`));
  } catch (err) {
    note.textContent = err.message;
  }
}

function filterDocuments() {
  const needle = $("documents-filter").value.trim();
  for (const item of $("documents").children) {
    const title = item.querySelector(".doc-title");
    item.hidden = Boolean(needle) && !(title && title.textContent.includes(needle));
  }
}
$("documents-filter").addEventListener("input", filterDocuments);

// -- unanswered queue ---------------------------------------------------------

async function loadQueue() {
  say($("queue-note"), "正在加载…");
  try {
    const { groups } = await call("/api/v1/unanswered");
    say($("queue-note"), groups.length ? "" : "目前没有待答问题。");
    $("queue").replaceChildren(...groups.map(renderGroup));
  } catch (err) {
    say($("queue-note"), err.message, "error");
  }
}

function renderGroup(group) {
  const question = el("input", { value: group.question, required: true, maxlength: 500 });
  const answer = el("textarea", { rows: 4, required: true, maxlength: 2000, placeholder: "请写出答复，尽量注明政策依据" });
  const documentSelect = el("select", {},
    el("option", { value: "" }, "不关联文件"), myDocuments.map((d) => el("option", { value: d.id }, docName(d))));
  const note = el("p", { role: "status", hidden: true });
  const item = el("li", { class: "group", "data-group-id": group.id });
  const answerForm = el("form", { class: "answer-form", hidden: true },
    el("label", {}, "问题（可改写为规范问法）", question),
    el("label", {}, "答复", answer),
    el("label", {}, "关联文件", documentSelect),
    el("button", { type: "submit" }, "发布为常见问答"), note);
  answerForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      question: question.value.trim(),
      answer: answer.value.trim(),
      question_ids: group.questions.map((q) => q.question_id),
    };
    if (documentSelect.value) body.document_id = documentSelect.value;
    try {
      const faq = await call("/api/v1/faq", { method: "POST", json: body });
      item.classList.add("done");
      item.replaceChildren(el("p", { role: "status" }, `已发布为常见问答：“${faq.question}”，机器人将据此答复。`));
    } catch (err) {
      say(note, err.message, "error");
    }
  });
  const reply = el("button", { type: "button", class: "reply", onclick: () => {
    reply.hidden = true;
    answerForm.hidden = false;
    answer.focus();
  } }, "答复");
  item.append(
    el("h3", {}, group.question),
    el("p", { class: "muted" }, `共 ${group.count} 次，最近：${formatTime(group.last_asked)}　`,
      (group.reasons || []).map((r) => el("span", { class: `badge reason-${r}` }, REASONS[r] || r))),
    el("details", {}, el("summary", {}, `原始提问（${group.questions.length}）`),
      el("ul", {}, group.questions.map((q) =>
        el("li", {}, el("span", { class: "muted" }, `${formatTime(q.asked_at)}　${REASONS[q.reason] || q.reason}　`), q.question)))),
    reply, answerForm);
  return item;
}

// -- statistics ---------------------------------------------------------------

async function loadStats() {
  say($("stats-note"), "正在加载…");
  let stats;
  try {
    stats = await call("/api/v1/stats");
  } catch (err) {
    say($("stats-note"), err.message, "error");
    return;
  }
  say($("stats-note"), "");
  $("totals").replaceChildren(
    total("咨询总量", stats.total), total("已回答", stats.answered),
    total("回答率", `${(100 * stats.answered_rate).toFixed(1)}%`),
    stats.feedback ? total("有帮助 / 没帮助", `${stats.feedback.helpful} / ${stats.feedback.unhelpful}`) : null);
  // Drawn at the container's own width, so the labels keep their size on a phone.
  const width = Math.max(300, $("days-chart").clientWidth || 640);
  $("days-chart").replaceChildren(...(stats.days.length
    ? [dailyChart(fillDays(stats.days, Math.min(stats.days_covered || 30, 90)), width), el("p", { class: "chart-legend" },
      el("span", {}, el("span", { class: "swatch asked" }), "咨询"),
      el("span", {}, el("span", { class: "swatch answered" }), "已回答"))]
    : [el("p", { class: "muted" }, "暂无数据")]));
  $("topics-chart").replaceChildren(stats.topics.length ? topicsChart(stats.topics, width) : el("p", { class: "muted" }, "暂无数据"));
  $("hot").replaceChildren(...stats.hot_questions.map((h) => el("li", {}, h.question, el("span", { class: "muted" }, `　${h.count} 次`))));
}

function total(name, value) {
  return el("div", { class: "total" }, el("span", { class: "value" }, String(value)), el("span", { class: "muted" }, name));
}

if (key) signIn(key).catch((err) => signOut(err.message));

// Hotline agent search: filters, highlighted ranked passages, the whole article
// and its interpretation one click away, and a citation ready to copy.
import {
  KIND, STATUS, api, citationText, copyText, docName, el, highlight, queryTerms, quoteTitle, say, statusBadge,
} from "/static/common.js";

const form = document.getElementById("search-form");
const fields = ["q", "department", "doc_number", "status"].map((id) => document.getElementById(id));
const summary = document.getElementById("summary");
const results = document.getElementById("results");
const dialog = document.getElementById("doc-dialog");
const dialogTitle = document.getElementById("doc-title");
const dialogBody = document.getElementById("doc-body");

let terms = [];
let latest = 0; // only the newest search may fill the page (an older reply can arrive last)

async function fillSuggestions() {
  try {
    const { documents } = await api("/api/v1/documents", { params: { status: "all" } });
    const departments = new Set();
    const numbers = new Set();
    for (const doc of documents) {
      for (const name of [doc.drafting_department, doc.issuer]) if (name) departments.add(name);
      if (doc.doc_number) numbers.add(doc.doc_number);
    }
    document.getElementById("departments").replaceChildren(...[...departments].sort().map((v) => el("option", { value: v })));
    document.getElementById("doc-numbers").replaceChildren(...[...numbers].sort().map((v) => el("option", { value: v })));
  } catch (err) {
    // Suggestions are a convenience; the filters still take typed values.
  }
}

function formValues() {
  return Object.fromEntries(fields.map((f) => [f.name, f.value.trim()]));
}

async function search() {
  const values = formValues();
  if (!values.q) return;
  history.replaceState(null, "", `?${new URLSearchParams(Object.entries(values).filter(([, v]) => v))}`);
  const ticket = ++latest;
  say(summary, "正在检索…");
  results.replaceChildren();
  try {
    const data = await api("/api/v1/search", { params: { ...values, k: 20 } });
    if (ticket !== latest) return;
    terms = queryTerms(values.q, data.terms || []);
    const filters = [
      values.department && `起草部门：${values.department}`,
      values.doc_number && `文号：${values.doc_number}`,
      values.status !== "current" && STATUS[values.status],
    ].filter(Boolean);
    const scope = filters.length ? `（${filters.join("；")}）` : "";
    say(summary, data.results.length
      ? `“${values.q}”共 ${data.results.length} 条结果${scope}`
      : `没有找到与“${values.q}”相关的内容${scope}：请换个说法，或放宽筛选条件。`);
    results.replaceChildren(...data.results.map(renderHit));
  } catch (err) {
    if (ticket === latest) say(summary, err.message, "error");
  }
}

function renderHit(hit, index) {
  const doc = hit.document;
  const interp = hit.interpretation;
  const path = hit.article ? hit.article.path || [] : [];
  const citation = citationText(hit);
  const copied = el("span", { class: "copied muted", role: "status" });
  return el("li", { class: `result kind-${hit.kind}`, "data-chunk-id": hit.chunk_id },
    el("div", { class: "result-head" },
      el("span", { class: "rank" }, String(index + 1)),
      el("span", { class: "badge" }, KIND[hit.kind] || hit.kind),
      el("strong", { class: "doc-title" }, doc ? docName(doc) : "常见问答"),
      doc ? statusBadge(doc.status) : null,
      el("span", { class: "score muted", title: "相关度" }, hit.score.toFixed(3))),
    path.length ? el("ol", { class: "path" }, path.map((p) => el("li", {}, p))) : null,
    el("p", { class: "passage" }, highlight(hit.text, terms)),
    interp ? el("p", { class: "interp muted" }, `解读：${quoteTitle(interp.title)} ${interp.department}`,
      interp.publish_date ? ` ${interp.publish_date}` : "") : null,
    el("div", { class: "result-actions" },
      doc ? el("button", { type: "button", class: "open", onclick: () => openDocument(doc.id, hit) }, "查看全文及解读") : null,
      el("button", { type: "button", class: "copy", onclick: () => copyCitation(citation, copied) }, "复制引用"),
      copied),
    el("p", { class: "citation-text" }, citation));
}

async function copyCitation(text, note) {
  note.textContent = (await copyText(text)) ? "已复制" : "复制失败，请手动选中引用文字";
}

/** The whole document: every article (the hit's one marked), then its interpretations. */
async function openDocument(id, hit = null) {
  dialogTitle.textContent = "正在打开…";
  dialogBody.replaceChildren();
  if (!dialog.open) dialog.showModal();
  let doc;
  try {
    doc = await api(`/api/v1/documents/${encodeURIComponent(id)}`);
  } catch (err) {
    dialogTitle.textContent = err.message;
    return;
  }
  dialogTitle.textContent = docName(doc);
  const wanted = hit && hit.article ? (hit.article.path || [hit.article.label]).join(" / ") : null;
  let target = null;
  const articles = (doc.articles || []).map((article) => {
    const node = renderArticle(doc, article);
    if (!target && wanted && (article.path || [article.label]).join(" / ") === wanted) target = node;
    return node;
  });
  const interps = (doc.interpretations || []).map((interp) => {
    const sections = (interp.sections || []).map((section) => {
      const node = el("div", { class: "qa" },
        section.question ? el("p", { class: "q" }, "问：", highlight(section.question, terms)) : null,
        el("p", { class: "a" }, section.question ? "答：" : "", highlight(section.answer, terms)));
      if (!target && hit && hit.kind === "interpretation" && sameText(section, hit.text)) target = node;
      return node;
    });
    return el("section", { class: "interpretation" },
      el("h3", {}, quoteTitle(interp.title)),
      el("p", { class: "muted" }, `解读部门：${interp.department}`, interp.publish_date ? `　发布日期：${interp.publish_date}` : ""),
      sections);
  });
  const children = (doc.children || []).map((child) =>
    el("li", {}, el("button", { type: "button", class: "link", onclick: () => openDocument(child.id) }, docName(child))));
  // replaceChildren, unlike el(), would print a null as the text "null".
  dialogBody.replaceChildren(...[
    el("dl", { class: "meta" },
      meta("状态", STATUS[doc.status] || doc.status), meta("文号", doc.doc_number), meta("发文机关", doc.issuer),
      meta("起草（解读）部门", doc.drafting_department), meta("发布日期", doc.publish_date),
      meta("施行日期", doc.effective_date), meta("有效期至", doc.expiry_date)),
    doc.status !== "current" ? el("p", { class: "warnings" }, `注意：本文件${STATUS[doc.status] || doc.status}，答复群众时请勿作为现行依据。`) : null,
    children.length ? el("section", {}, el("h3", {}, "本文件转发的文件"), el("ul", {}, children)) : null,
    doc.supersedes ? el("p", {}, el("button", { type: "button", class: "link", onclick: () => openDocument(doc.supersedes) },
      "查看本文件取代的旧文件")) : null,
    ...(doc.superseded_by || []).map((newer) => el("p", {}, el("button", {
      type: "button", class: "link successor", onclick: () => openDocument(newer.id) },
      `查看取代本文件的新文件：${docName(newer)}`))),
    doc.parent_id ? el("p", {}, el("button", { type: "button", class: "link", onclick: () => openDocument(doc.parent_id) },
      "查看转发本文件的通知")) : null,
    el("section", { class: "articles" }, el("h3", {}, `条文（${articles.length}）`), articles),
    el("section", { class: "interpretations" },
      el("h3", {}, "政策解读"),
      interps.length ? interps : el("p", { class: "muted" }, "该文件暂无政策解读。")),
  ].filter(Boolean));
  if (target) {
    target.classList.add("target");
    target.scrollIntoView({ block: "center" });
  }
}

function renderArticle(doc, article) {
  const note = el("span", { class: "copied muted", role: "status" });
  const citation = citationText({ kind: "article", document: doc, article });
  const units = article.responsible_units || [];
  return el("article", { class: "article" },
    el("h4", {}, (article.path || [article.label]).join(" › ")),
    el("p", { class: "passage" }, highlight(article.text, terms)),
    units.length ? el("p", { class: "muted" }, `责任单位：${units.join("、")}`) : null,
    el("div", { class: "result-actions" },
      el("button", { type: "button", class: "copy", onclick: () => copyCitation(citation, note) }, "复制引用"), note));
}

function meta(name, value) {
  return value ? [el("dt", {}, name), el("dd", {}, value)] : null;
}

/** Whether a stored Q&A section is the one a hit quotes (the hit may be a window of it). */
function sameText(section, hit) {
  const squash = (s) => s.replace(/\s+|^问：|答：/g, "");
  const head = squash(hit).slice(0, 40);
  return head.length > 0 && squash(`问：${section.question || ""}答：${section.answer}`).includes(head);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
document.getElementById("status").addEventListener("change", () => formValues().q && search());
document.getElementById("close-dialog").addEventListener("click", () => dialog.close());

const initial = new URLSearchParams(location.search);
for (const field of fields) if (initial.get(field.name)) field.value = initial.get(field.name);
fillSuggestions();
if (initial.get("q")) search();

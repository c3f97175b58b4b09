// Citizen chat: one question box, answers with their sources, warnings and handoff.
import { KIND, api, docName, el, quoteTitle, randomId, statusBadge } from "/static/common.js";

const SESSION_KEY = "policybot.session_id";
const messages = document.getElementById("messages");
const form = document.getElementById("ask-form");
const box = document.getElementById("question");
const button = document.getElementById("ask-button");

/** One id per browser tab, so a follow-up ("需要多久？") is read with the previous question. */
function sessionId() {
  let id = sessionStorage.getItem(SESSION_KEY);
  if (!id) {
    id = randomId();
    sessionStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

function show(item) {
  messages.append(item);
  item.scrollIntoView({ block: "end", behavior: "smooth" });
  return item;
}

async function ask(question) {
  show(el("li", { class: "msg user" }, el("p", {}, question)));
  const pending = show(el("li", { class: "msg bot pending", role: "status" }, "正在查找相关政策…"));
  button.disabled = true;
  try {
    const answer = await api("/api/v1/ask", {
      method: "POST",
      json: { question, session_id: sessionId(), channel: "web" },
    });
    pending.replaceWith(renderAnswer(answer));
  } catch (err) {
    pending.replaceWith(el("li", { class: "msg bot error", role: "alert" }, err.message));
  } finally {
    button.disabled = false;
    messages.lastElementChild.scrollIntoView({ block: "end" });
  }
}

function renderAnswer(data) {
  const citations = data.citations || [];
  const warnings = data.warnings || [];
  const showSource = data.source_line && !data.answer.includes(data.source_line);
  // The answer text repeats each warning for channels without a warning box (WeChat); here the box shows it.
  const boxed = new Set(warnings.flatMap((w) => [w, `注意：${w}`]));
  const text = data.answer.split("\n").filter((line) => !boxed.has(line.trim())).join("\n").trim();
  return el("li", { class: `msg bot answer${data.answered ? "" : " refused"}`, "data-question-id": data.question_id },
    warnings.length ? el("div", { class: "warnings", role: "alert" },
      warnings.map((w) => el("p", {}, el("strong", {}, "注意："), w))) : null,
    el("p", { class: "answer-text" }, text || data.answer),
    showSource ? el("p", { class: "source muted" }, data.source_line) : null,
    data.handoff ? renderHandoff(data.handoff) : null,
    citations.length ? el("section", { class: "citations" },
      el("h2", {}, `依据（${citations.length}）`),
      citations.map(renderCitation)) : null,
    renderFeedback(data.question_id),
  );
}

function renderHandoff(handoff) {
  const number = String(handoff.hotline || "").replace(/[^0-9+-]/g, "");
  return el("div", { class: "handoff" },
    el("p", {}, handoff.message),
    number ? el("a", { class: "button call", href: `tel:${number}` }, `拨打 ${handoff.hotline}`) : null);
}

function renderCitation(hit) {
  const doc = hit.document || {};
  const interp = hit.interpretation;
  const label = hit.article ? hit.article.label : "";
  const path = hit.article ? hit.article.path || [] : [];
  // An opened citation scrolls into sight above the question box.
  return el("details", { class: `citation kind-${hit.kind}`, ontoggle: (e) => e.target.open && e.target.scrollIntoView({ block: "nearest" }) },
    el("summary", {},
      el("span", { class: "badge" }, KIND[hit.kind] || hit.kind),
      interp && hit.kind === "interpretation"
        ? el("span", { class: "doc-title" }, quoteTitle(interp.title), el("span", { class: "label" }, interp.department))
        : el("span", { class: "doc-title" }, docName(hit.document)),
      label ? el("span", { class: "label" }, label) : null,
      doc.status && doc.status !== "current" ? statusBadge(doc.status) : null),
    path.length > 1 ? el("ol", { class: "path" }, path.map((p) => el("li", {}, p))) : null,
    el("blockquote", { class: "passage" }, hit.text),
    interp ? el("p", { class: "interp" },
      "政策解读：", quoteTitle(interp.title), `（解读部门：${interp.department}`,
      interp.publish_date ? `，${interp.publish_date}` : "", "）") : null,
    hit.interpretation_text ? el("blockquote", { class: "passage interp-text" }, hit.interpretation_text) : null,
    el("dl", { class: "meta" },
      meta("文件", doc.title),
      meta("文号", doc.doc_number),
      meta("发文机关", doc.issuer),
      meta("起草（解读）部门", doc.drafting_department),
      meta("发布日期", doc.publish_date),
      meta("有效期至", doc.expiry_date)),
    doc.url ? el("a", { href: safeUrl(doc.url), rel: "noopener noreferrer", target: "_blank" }, "查看原文") : null);
}

function meta(name, value) {
  return value ? [el("dt", {}, name), el("dd", {}, value)] : null;
}

/** Only http(s) links: a javascript: URL from the data must not become clickable. */
function safeUrl(url) {
  try {
    const parsed = new URL(url, location.origin);
    return ["http:", "https:"].includes(parsed.protocol) ? parsed.href : "#";
  } catch (err) {
    return "#";
  }
}

function renderFeedback(questionId) {
  const note = el("p", { class: "muted", role: "status" });
  const comment = el("textarea", { rows: 2, maxlength: 500, placeholder: "哪里不清楚或不对？（可不填）" });
  const more = el("form", { class: "feedback-more", hidden: true },
    comment, el("button", { type: "submit" }, "提交"));
  const yes = el("button", { type: "button", class: "thumb up", onclick: () => send(true) }, "有帮助");
  // 没帮助 counts at once; the comment box only adds what was missing.
  const no = el("button", { type: "button", class: "thumb down", onclick: async () => {
    if (!(await send(false, "", true))) return;
    more.hidden = false;
    more.scrollIntoView({ block: "nearest" });
    comment.focus({ preventScroll: true });
  } }, "没帮助");
  const block = el("div", { class: "feedback" }, el("span", {}, "这个回答有帮助吗？"), yes, no, more, note);
  more.addEventListener("submit", (event) => { event.preventDefault(); send(false, comment.value.trim()); });

  async function send(helpful, text = "", askMore = false) {
    yes.disabled = no.disabled = true;
    try {
      await api("/api/v1/feedback", {
        method: "POST",
        json: text ? { question_id: questionId, helpful, comment: text } : { question_id: questionId, helpful },
      });
      if (!askMore) more.hidden = true;
      note.textContent = helpful ? "感谢您的反馈！"
        : askMore ? "已记录。可以补充哪里不清楚（可不填）：" : "感谢反馈，我们会请相关部门补充解答。";
      return true;
    } catch (err) {
      yes.disabled = no.disabled = false;
      note.textContent = err.message;
      return false;
    }
  }
  return questionId ? block : null;
}

// A new topic: a new session, so the next question is not read as a follow-up.
document.getElementById("new-topic").addEventListener("click", () => {
  sessionStorage.removeItem(SESSION_KEY);
  messages.replaceChildren(messages.firstElementChild);
  box.focus();
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = box.value.trim();
  if (!question || button.disabled) return;
  box.value = "";
  ask(question);
});

// Enter sends, Shift+Enter breaks the line; never while an IME is composing (拼音 input).
box.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// /chat?q=… (the WeChat reply's "full answer" link) asks that question once; a reload does not ask again.
const linked = (new URLSearchParams(location.search).get("q") || "").trim();
if (linked) {
  history.replaceState(null, "", location.pathname);
  ask(linked.slice(0, 500));
}

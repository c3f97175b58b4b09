// Shared helpers for the three pages. Server text only ever enters the page as
// text nodes (el() and highlight() below): no page assigns markup strings.

export const STATUS = {
  current: "现行有效",
  amended: "已修订",
  repealed: "已废止",
  expired: "已失效",
  all: "全部",
};

export const KIND = { article: "条文", interpretation: "政策解读", faq: "常见问答" };

/** Build an element: el("p", {class: "x", onclick: f, "aria-label": "y"}, "text", child). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.setAttribute("class", value);
    } else if (name === "text") {
      node.textContent = value;
    } else if (name in node && typeof value !== "string") {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

/** An SVG element (namespaced); attributes only, text via textContent. */
export function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** Call the JSON API; throws ApiError carrying the server's Chinese `detail`. */
export async function api(path, { method = "GET", json, form, key, params } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== "" && value !== null && value !== undefined) url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch (err) {
    throw new ApiError(0, "网络连接失败，请检查网络后重试。");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, errorDetail(response.status, data));
  return data;
}

export function errorDetail(status, data) {
  if (data && typeof data.detail === "string") return data.detail;
  if (status === 429) return "请求过于频繁，请稍后再试。";
  if (status >= 500) return "服务暂时不可用，请稍后再试。";
  return `请求失败（${status}）。`;
}

/** 《title》, once: interpretation titles often carry their own book-title marks already. */
export function quoteTitle(title) {
  return /^《.*》/.test(title || "") ? title : `《${title}》`;
}

/** 《title》（文号） */
export function docName(doc) {
  if (!doc) return "";
  return `${quoteTitle(doc.title)}${doc.doc_number ? `（${doc.doc_number}）` : ""}`;
}

/** The citation an agent reads out or pastes: which document says it, where, and who interprets it. */
export function citationText(hit) {
  const doc = hit.document;
  const interp = hit.interpretation;
  if (hit.kind === "interpretation" && interp) {
    const when = interp.publish_date ? `，${interp.publish_date}` : "";
    const about = doc ? `，解读${docName(doc)}` : "";
    return `${quoteTitle(interp.title)}（${interp.department}${when}）${about}`;
  }
  const parts = [docName(doc)];
  if (hit.article && hit.article.label) parts.push(hit.article.label);
  const dept = (hit.faq && hit.faq.department) || (doc && (doc.drafting_department || doc.issuer));
  return parts.join(" ") + (dept ? `，${hit.kind === "faq" ? "答复部门" : "起草部门"}：${dept}` : "");
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, text: STATUS[status] || status });
}

// Two-character pieces that say nothing about a policy: left unhighlighted.
const FILLER = new Set("什么 怎么 怎样 如何 多少 哪些 哪里 哪个 是否 可以 能否 能不 不能 需要 请问 我们 我的 你们 有没 没有 一下 这个 那个 还是 的话 是不".split(" "));

/**
 * Terms to highlight for a query: whole words, and for Chinese (no spaces)
 * every two-character piece, so 城乡居民医保 matches 城乡居民 and 医保.
 */
export function queryTerms(query, serverTerms = []) {
  const terms = new Set(serverTerms.filter((t) => t && t.length > 1));
  for (const word of query.split(/[\s,，。、；;：:？?！!（）()《》“”"'〔〕\[\]]+/)) {
    if (!word) continue;
    if (word.length > 1) terms.add(word);
    const cjk = word.match(/[\u3400-\u9fff]+/g) || [];
    for (const run of cjk) {
      for (let i = 0; i + 1 < run.length; i += 1) {
        const pair = run.slice(i, i + 2);
        if (!FILLER.has(pair)) terms.add(pair);
      }
    }
    for (const token of word.match(/[A-Za-z0-9]{2,}|\d+/g) || []) terms.add(token);
  }
  return [...terms].filter((t) => !FILLER.has(t));
}

/** Text with every occurrence of the terms wrapped in <mark>, built as nodes (never HTML). */
export function highlight(text, terms) {
  const marked = new Array(text.length).fill(false);
  const lower = text.toLowerCase();
  for (const term of terms) {
    const needle = term.toLowerCase();
    for (let at = lower.indexOf(needle); at !== -1; at = lower.indexOf(needle, at + 1)) {
      marked.fill(true, at, at + needle.length);
    }
  }
  const fragment = document.createDocumentFragment();
  let start = 0;
  for (let i = 1; i <= text.length; i += 1) {
    if (i === text.length || marked[i] !== marked[start]) {
      const piece = text.slice(start, i);
      fragment.append(marked[start] ? el("mark", {}, piece) : document.createTextNode(piece));
      start = i;
    }
  }
  return fragment;
}

/** Copy to the clipboard; falls back to a selected textarea where the Clipboard API is missing (plain http). */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (err) {
    // Fall through to the selection copy below.
  }
  const area = el("textarea", { class: "offscreen", readonly: true }, text);
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch (err) {
    copied = false;
  }
  area.remove();
  return copied;
}

/** A random id; crypto.randomUUID is missing on plain-http intranet pages. */
export function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An ISO timestamp as local "YYYY-MM-DD HH:MM"; anything else as it is. */
export function formatTime(value) {
  const time = new Date(value);
  if (!value || Number.isNaN(time.getTime()) || !String(value).includes("T")) return value || "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())} ${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

/** Show a message in a status region (role=status or alert in the HTML). */
export function say(node, message, kind = "info") {
  node.textContent = message || "";
  node.dataset.kind = kind;
  node.hidden = !message;
}

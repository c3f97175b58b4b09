// Two small charts drawn as inline SVG (no chart library, nothing fetched).
import { svg } from "/static/common.js";

/**
 * Every day of the window, zeros included: the API lists only days with questions,
 * and a chart without its quiet days would misstate the trend. Dates are the API's (UTC).
 */
export function fillDays(days, covered = 30) {
  const known = new Map(days.map((d) => [d.date, d]));
  const today = new Date().toISOString().slice(0, 10);
  const last = days.length && days[days.length - 1].date > today ? days[days.length - 1].date : today;
  const end = Date.parse(`${last}T00:00:00Z`);
  const out = [];
  for (let i = covered - 1; i >= 0; i -= 1) {
    const date = new Date(end - i * 86400000).toISOString().slice(0, 10);
    out.push(known.get(date) || { date, questions: 0, answered: 0 });
  }
  return out;
}

/** Questions per day (light bar) with the answered part (dark bar) in front. */
export function dailyChart(days, width = 640) {
  const height = 220;
  const left = 36;
  const bottom = 28;
  const top = 12;
  const plot = height - bottom - top;
  const max = Math.max(1, ...days.map((d) => d.questions));
  const step = (width - left - 8) / Math.max(days.length, 1);
  const bar = Math.max(2, Math.min(36, step * 0.7));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "daily", role: "img",
    "aria-label": `每日咨询量，共 ${days.length} 天` });
  chart.append(svg("line", { x1: left, y1: top + plot, x2: width - 4, y2: top + plot, class: "axis" }));
  chart.append(svg("text", { x: left - 6, y: top + 10, class: "tick", "text-anchor": "end" }, String(max)));
  chart.append(svg("text", { x: left - 6, y: top + plot, class: "tick", "text-anchor": "end" }, "0"));
  const labelEvery = Math.ceil(days.length / 8);
  days.forEach((day, i) => {
    const x = left + i * step + (step - bar) / 2;
    const h = (day.questions / max) * plot;
    const a = (day.answered / max) * plot;
    const group = svg("g", { class: "day" });
    group.append(svg("title", {}, `${day.date}：咨询 ${day.questions}，已回答 ${day.answered}`));
    group.append(svg("rect", { x, y: top + plot - h, width: bar, height: h, class: "asked" }));
    group.append(svg("rect", { x, y: top + plot - a, width: bar, height: a, class: "answered" }));
    // The last day is always labelled; a regular label too close to it would overlap.
    const regular = i % labelEvery === 0 && days.length - 1 - i >= Math.max(1, labelEvery / 2);
    if (regular || i === days.length - 1) {
      group.append(svg("text", { x: x + bar / 2, y: height - 8, class: "tick", "text-anchor": "middle" },
        day.date.slice(5)));
    }
    chart.append(group);
  });
  return chart;
}

/** Top topics: one horizontal bar per document, longest first. */
export function topicsChart(topics, width = 640) {
  const row = 30;
  const labelWidth = Math.round(width * 0.45);
  const chars = Math.max(6, Math.floor((labelWidth - 8) / 12));
  const height = Math.max(row, topics.length * row);
  const max = Math.max(1, ...topics.map((t) => t.count));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "topics", role: "img",
    "aria-label": "热门话题" });
  topics.forEach((topic, i) => {
    const y = i * row;
    const length = ((width - labelWidth - 48) * topic.count) / max;
    const title = topic.title || "（未关联文件）";
    const number = topic.doc_number ? `（${topic.doc_number}）` : "";
    const group = svg("g", { class: "topic" });
    group.append(svg("title", {}, `${title}${number}：${topic.count} 次`));
    // Cut the title, not the 文号: two years' notices often share a title.
    const label = (title + number).length > chars
      ? `${title.slice(0, Math.max(2, chars - number.length - 1))}…${number}` : title + number;
    group.append(svg("text", { x: labelWidth - 8, y: y + row / 2 + 5, class: "label", "text-anchor": "end" }, label));
    group.append(svg("rect", { x: labelWidth, y: y + 6, width: Math.max(length, 2), height: row - 12, class: "asked" }));
    group.append(svg("text", { x: labelWidth + length + 6, y: y + row / 2 + 5, class: "tick" }, String(topic.count)));
    chart.append(group);
  });
  return chart;
}

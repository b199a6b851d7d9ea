"use strict";
// The sandbox page: pretend students talking to the school through the sandbox messenger.
const $ = (id) => document.getElementById(id);
let current = null;
const unread = {};
let students = [];

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"}[c]));
}

function linkify(text) {
  return escapeHtml(text).replace(/https?:\/\/[^\s<]+/g,
    (url) => `<a href="${url}" target="_blank" rel="noopener">${url}</a>`);
}

function fillBotMessage(element, message) {
  element.innerHTML = linkify(message.text);
  if (message.photo) {
    const picture = document.createElement("img");
    picture.className = "photo";
    picture.src = message.photo;
    picture.alt = message.photo_name || "picture";
    element.prepend(picture);
  }
  if (!message.rows.length) return;
  const buttons = document.createElement("div");
  buttons.className = "buttons";
  for (const row of message.rows) {
    const line = document.createElement("div");
    line.className = "row";
    for (const button of row) {
      let node;
      if (button.url) {
        node = document.createElement("a");
        node.href = button.url;
        node.target = "_blank";
        node.rel = "noopener";
      } else {
        node = document.createElement("button");
        node.type = "button";
        node.addEventListener("click", () => press(message.id, button.action));
      }
      node.textContent = button.text;
      line.append(node);
    }
    buttons.append(line);
  }
  element.append(buttons);
}

function addEntry(entry) {
  const element = document.createElement("div");
  element.className = `msg ${entry.from}`;
  if (entry.from === "bot") {
    element.dataset.id = entry.id;
    fillBotMessage(element, entry);
  } else {
    element.textContent = entry.text;
  }
  $("chat").append(element);
  $("chat").scrollTop = $("chat").scrollHeight;
}

// An edited message may have grown past the bottom of the chat, or be further up than the
// student scrolled: bring all of it into view (its top, if it is taller than the chat).
function reveal(element) {
  const tall = element.offsetHeight > $("chat").clientHeight;
  element.scrollIntoView({block: tall ? "start" : "nearest"});
}

function renderStudents() {
  const list = $("students");
  list.innerHTML = "";
  for (const student of students) {
    const item = document.createElement("li");
    item.className = student.id === current ? "current" : "";
    item.dataset.id = student.id;
    item.innerHTML = `<span>${escapeHtml(student.name)}<span class="lang">${student.language}</span></span>`;
    if (unread[student.id]) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = unread[student.id];
      item.append(badge);
    }
    item.addEventListener("click", () => select(student.id));
    list.append(item);
  }
}

function renderState(state) {
  $("school").textContent = state.school;
  document.title = `Sandbox — ${state.school}`;
  $("notice").textContent = `Pretend students, a separate database (${state.database}) and a ` +
    "clock of its own: nothing here reaches real students or real money.";
  $("local-time").textContent = state.local_time;
  $("timezone").textContent = state.timezone;
  $("moved").textContent = state.moved ? `+${state.moved}` : "not moved";
  students = state.students;
  renderStudents();
}

async function select(studentId) {
  current = studentId;
  unread[studentId] = 0;
  renderStudents();
  const student = students.find((s) => s.id === studentId);
  $("who").textContent = student ? `${student.name} (${student.language})` : "";
  $("chat").innerHTML = "";
  for (const entry of await api(`history?student=${encodeURIComponent(studentId)}`)) {
    addEntry(entry);
  }
}

function showToast(text) {
  const toast = $("toast");
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => { toast.hidden = true; }, 2500);
}

async function press(messageId, action) {
  try {
    await api("press", {student: current, message: messageId, action});
  } catch (error) {
    showToast(error.message);
  }
}

async function say(text) {
  if (!text.trim()) return;
  try {
    await api("send", {student: current, text});
  } catch (error) {
    showToast(error.message);
  }
}

function onEvent(event) {
  if (event.student !== current) {
    if (event.type === "message" || event.type === "said") {
      unread[event.student] = (unread[event.student] || 0) + 1;
      renderStudents();
    }
    return;
  }
  if (event.type === "message" || event.type === "said") {
    addEntry(event);
  } else if (event.type === "edit") {
    const element = document.querySelector(`#chat .msg.bot[data-id="${event.id}"]`);
    if (element) {
      fillBotMessage(element, event);
      element.classList.remove("edited");
      void element.offsetWidth;
      element.classList.add("edited");
      reveal(element);
    } else {
      addEntry(event);
    }
  } else if (event.type === "toast") {
    showToast(event.text);
  }
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text").value;
  $("text").value = "";
  say(text);
});
$("start").addEventListener("click", () => say("/start"));
$("add-student").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const student = await api("students", {name: $("new-name").value,
      language: $("new-language").value});
    $("new-name").value = "";
    renderState(await api("state"));
    await select(student.id);
  } catch (error) {
    showToast(error.message);
  }
});
for (const button of document.querySelectorAll("[data-advance]")) {
  button.addEventListener("click", async () => {
    try {
      renderState(await api("clock", {advance: button.dataset.advance}));
    } catch (error) {
      showToast(error.message);
    }
  });
}

(async () => {
  const state = await api("state");
  renderState(state);
  const feed = new EventSource("events");
  feed.onmessage = (message) => onEvent(JSON.parse(message.data));
  if (students.length) await select(students[0].id);
})();

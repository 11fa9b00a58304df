/*
 * Signpost chat widget. Plain JavaScript: no framework, no build step, no third parties.
 *
 * Embed with one tag:
 *   <script src="https://HOST/widget/signpost.js" data-api="https://HOST" defer></script>
 * Optional data attributes:
 *   data-title      panel title (default "Signpost")
 *   data-launcher   launcher button text (default "Get help")
 *   data-accent     accent colour, #rgb or #rrggbb (text colours are picked for contrast)
 *   data-position   "right" (default) or "left"
 *   data-exit-url   https page that Quick exit goes to (default BBC Weather)
 *   data-greeting   first message
 *   data-persist    "session": keep the chat in this tab's sessionStorage (default: memory only)
 *   data-page-exit  show a Quick exit button on the page while the chat is closed
 *   data-new-tab    open answer links in a new tab (default: same tab, so none outlives Quick exit)
 *
 * Everything is built with DOM calls and textContent; answers from the API are never
 * parsed as HTML. Links are only https:, tel:, sms: or mailto:. The only requests made are
 * to data-api (and signpost.css, next to this file).
 */
(function () {
  'use strict';

  var doc = document;
  if (doc.querySelector('signpost-widget')) return; // already on the page

  var script = doc.currentScript ||
    [].slice.call(doc.querySelectorAll('script[src]')).filter(function (s) {
      return /signpost\.js(\?|#|$)/.test(s.src);
    }).pop();
  if (!script) return;

  // The only hard-coded helpline numbers: shown when the API cannot be reached.
  // The first three are shown with errors; the offline "Talk to someone" lists come from the rest.
  var OFFLINE_HELP = [
    { id: 'childline', name: 'Childline', phone: '0800 1111', url: 'https://www.childline.org.uk/',
      contact_url: 'https://www.childline.org.uk/get-support/1-2-1-counsellor-chat/',
      description: 'For children and young people. Free, private, 24 hours.', open_now: true },
    { id: 'nspcc_helpline', name: 'NSPCC helpline', phone: '0808 800 5000',
      url: 'https://www.nspcc.org.uk/keeping-children-safe/reporting-abuse/',
      description: 'For adults worried about a child.' },
    { id: 'emergency', name: 'Police, ambulance or fire', phone: '999',
      description: 'If you or someone else is in danger right now.' },
    { id: 'shout', name: 'Shout', sms: '85258', text: 'Text SHOUT to 85258',
      description: 'Support by text, free, any time.', open_now: true },
    { id: 'samaritans', name: 'Samaritans', phone: '116 123', url: 'https://www.samaritans.org/',
      description: 'Anyone can call, free, any time.', open_now: true }
  ];
  var DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  var DAY_NAMES = 'Sunday Monday Tuesday Wednesday Thursday Friday Saturday'.split(' ');
  var DEFAULT_EXIT = 'https://www.bbc.co.uk/weather';
  var STORE_KEY = 'signpost-chat';
  var MAX_LEN = 1000;
  var MAX_TOPICS = 6;

  var data = script.dataset;
  var scriptUrl = new URL(script.src, doc.baseURI);
  var api = (function () {
    try {
      var u = new URL(data.api || scriptUrl.origin, doc.baseURI);
      if (u.protocol === 'https:' || u.protocol === 'http:') return u.href.replace(/\/+$/, '');
    } catch (e) { /* fall through */ }
    return scriptUrl.origin;
  })();
  var exitUrl = (function () {
    try {
      var u = new URL(data.exitUrl || DEFAULT_EXIT, doc.baseURI);
      if (u.protocol === 'https:' || u.origin === location.origin) return u.href;
    } catch (e) { /* fall through */ }
    return DEFAULT_EXIT;
  })();
  var title = (data.title || 'Signpost').slice(0, 60);
  var greeting = data.greeting ||
    "Hi, I'm " + title + ". I can answer questions about staying safe online and tell you where to get help. I'm a computer, not a person.";
  var persist = data.persist === 'session';
  var newTab = 'newTab' in data;

  // ---------- tiny DOM helper (textContent only) ----------
  function h(tag, props, kids) {
    var el = doc.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v == null || v === false) return;
        if (k === 'text') el.textContent = v;
        else if (k === 'class') el.className = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    if (kids != null) [].concat(kids).forEach(function (c) { if (c != null) el.append(c); });
    return el;
  }
  function svg(path) {
    var ns = 'http://www.w3.org/2000/svg';
    var s = doc.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    var p = doc.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    s.append(p);
    return s;
  }
  function sr(text) { return h('span', { class: 'sp-sr', text: text }); }
  function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function str(v) { return typeof v === 'string' ? v : (typeof v === 'number' ? String(v) : ''); }

  // ---------- links ----------
  function telHref(phone) {
    var d = str(phone).replace(/[\s()-]/g, '');
    return /^\+?\d{3,15}$/.test(d) ? 'tel:' + d : null;
  }
  function safeHref(url) {
    url = str(url).trim();
    if (/^tel:/i.test(url)) return telHref(url.slice(4));
    try {
      var u = new URL(url);
      if (u.protocol === 'https:' && !u.username && !u.password) return u.href;
    } catch (e) { /* not a URL */ }
    return null;
  }
  // Same tab unless the site opts in: a tab left open would outlive Quick exit.
  function a(href, cls, kids) {
    var web = newTab && href.slice(0, 6) === 'https:';
    return h('a', { href: href, class: cls, target: web && '_blank', rel: web && 'noopener noreferrer' },
      kids.concat(web ? sr(' (opens in a new tab)') : []));
  }
  function link(text, url) {
    var href = safeHref(url);
    return href ? a(href, null, [text]) : text; // anything but https:/tel: stays plain text
  }
  // Phone numbers and email addresses in answer text become tel: and mailto: links.
  var AUTO = /\b0\d{3}(?: ?\d{3,4}){1,2}\b|\b116 ?\d{3}\b|\b(?:9{3}|101|111)\b|[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;
  function auto(s, out) {
    var last = 0, m;
    AUTO.lastIndex = 0;
    while ((m = AUTO.exec(s))) {
      out.push(s.slice(last, m.index));
      out.push(a(m[0].indexOf('@') > 0 ? 'mailto:' + m[0] : telHref(m[0]), null, [m[0]]));
      last = AUTO.lastIndex;
    }
    out.push(s.slice(last));
  }

  // ---------- Markdown-lite: paragraphs, "- " / "1. " lists, [text](url), **bold** ----------
  var INLINE = /\[([^\]\n]+)\]\(([^)\s]+)\)|\*\*([^*\n]+)\*\*/g;
  function inline(s) {
    var out = [], last = 0, m;
    INLINE.lastIndex = 0;
    while ((m = INLINE.exec(s))) {
      auto(s.slice(last, m.index), out);
      out.push(m[1] != null ? link(m[1], m[2]) : h('strong', { text: m[3] }));
      last = INLINE.lastIndex;
    }
    auto(s.slice(last), out);
    return out;
  }
  function markdown(text) {
    var frag = doc.createDocumentFragment();
    str(text).replace(/\r\n?/g, '\n').split(/\n\s*\n/).forEach(function (block) {
      var para = null, list = null;
      block.split('\n').forEach(function (raw) {
        var line = raw.trim();
        if (!line) return;
        var m = /^(?:([-*•])|\d{1,2}[.)])\s+(.*)$/.exec(line);
        if (m) {
          var type = m[1] ? 'ul' : 'ol';
          if (!list || list.localName !== type) { list = h(type); frag.append(list); }
          list.append(h('li', null, inline(m[2])));
          para = null;
        } else {
          list = null;
          if (para) para.append(' ');
          else { para = h('p'); frag.append(para); }
          para.append.apply(para, inline(line));
        }
      });
    });
    return frag;
  }

  // ---------- colours ----------
  function lum(hex) {
    return [1, 3, 5].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    }).reduce(function (a, c, i) { return a + c * [0.2126, 0.7152, 0.0722][i]; }, 0);
  }
  function contrast(a, b) {
    var x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function accentRule(value) {
    var v = str(value).trim().toLowerCase();
    if (!/^#([0-9a-f]{3}|[0-9a-f]{6})$/.test(v)) return '';
    if (v.length === 4) v = '#' + v[1] + v[1] + v[2] + v[2] + v[3] + v[3];
    var on = contrast(v, '#ffffff') >= 4.5 ? '#ffffff' : '#0b0c0c';
    var rule = ':host{--sp-accent:' + v + ';--sp-on-accent:' + on + ';';
    // Accent used as text colour only where it is readable on the light bubbles.
    if (contrast(v, '#f3f2f1') >= 4.5) rule += '--sp-link:' + v + ';';
    return rule + '}';
  }

  // ---------- build the widget ----------
  var host = h('signpost-widget', { lang: 'en-GB' }); // not the host page's language
  var root = host.attachShadow({ mode: 'open' });
  var rule = accentRule(data.accent);
  if (rule) {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(rule);
      root.adoptedStyleSheets = [sheet];
    } catch (e) { /* older browser: default colours */ }
  }

  var wrap = h('div', { class: 'sp-root' + (data.position === 'left' ? ' sp-left' : ''), hidden: true });
  var css = h('link', { rel: 'stylesheet', href: new URL('signpost.css', scriptUrl).href });
  css.addEventListener('load', function () { wrap.hidden = false; });
  css.addEventListener('error', function () { wrap.hidden = false; });

  var launcher = h('button', {
    type: 'button', class: 'sp-launcher', 'aria-expanded': 'false', 'aria-controls': 'sp-panel'
  }, [svg('M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'),
    h('span', { text: data.launcher || 'Get help' })]);

  var exitBtn = h('button', { type: 'button', class: 'sp-exit' }, [
    'Quick exit', sr(' (leave this page now)')]);
  var closeBtn = h('button', { type: 'button', class: 'sp-close', 'aria-label': 'Close chat' },
    svg('M6 6l12 12M18 6L6 18'));
  var log = h('div', {
    class: 'sp-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation', tabindex: '0'
  });
  var typing = h('div', { class: 'sp-typing', 'aria-hidden': 'true', hidden: true },
    [h('span'), h('span'), h('span')]);
  var status = h('div', { class: 'sp-sr', role: 'status' });
  var input = h('input', {
    id: 'sp-input', class: 'sp-input', type: 'text', maxlength: String(MAX_LEN), autocomplete: 'off',
    enterkeyhint: 'send', placeholder: 'Type your question'
  });
  var sendBtn = h('button', { type: 'submit', class: 'sp-send' }, 'Send');
  var form = h('form', { class: 'sp-form', novalidate: true }, [
    h('label', { for: 'sp-input', class: 'sp-sr', text: 'Your question' }), input, sendBtn]);
  var clearBtn = h('button', { type: 'button', class: 'sp-tool sp-clear' }, 'Clear chat');
  var talkBtn = h('button', { type: 'button', class: 'sp-tool sp-talk-btn' }, 'Talk to someone now');
  var aboutBtn = h('button', { type: 'button', class: 'sp-tool' }, 'About this chat');
  var kept = persist
    ? 'It stays in this browser tab until you close it or clear the chat.'
    : "It's gone when you leave this page or clear the chat.";

  var panel = h('div', {
    id: 'sp-panel', class: 'sp-panel', role: 'dialog', 'aria-modal': 'false',
    'aria-labelledby': 'sp-title', 'aria-describedby': 'sp-privacy', hidden: true
  }, [
    h('div', { class: 'sp-head' }, [
      h('div', { class: 'sp-titles' }, [
        h('h2', { id: 'sp-title', class: 'sp-title', text: title }),
        h('p', { class: 'sp-sub', text: 'Automatic answers, not a person' })]),
      exitBtn, closeBtn]),
    log, status, form,
    h('div', { class: 'sp-foot' }, [
      h('p', { class: 'sp-tools' }, [talkBtn, aboutBtn, clearBtn]),
      h('p', { id: 'sp-privacy', class: 'sp-privacy' }, ["We don't save what you type. " + (persist ? kept + ' ' : ''),
        h('span', { class: 'sp-shift-tip', text: 'Press Shift 3 times to leave fast.' })])])
  ]);
  var cover = h('div', { class: 'sp-cover', hidden: true });
  var pageExit = 'pageExit' in data &&
    h('button', { type: 'button', class: 'sp-pexit' }, ['Quick exit', sr(' (leave this page now)')]);
  // Always in the page, so screen readers announce changes to it (GOV.UK "Exit this page").
  var shiftNote = h('div', { class: 'sp-shift', 'aria-live': 'polite' });
  wrap.append(panel, launcher, pageExit || '');
  root.append(css, wrap, cover, shiftNote);

  // ---------- state ----------
  var state = { items: [], audience: undefined, context: null };
  var busy = false, gen = 0, topics = null, topicsP = {};

  function store() {
    // Only once the person has said something: a fresh greeting is not worth keeping.
    if (!persist || !state.items.some(function (i) { return i.type === 'user'; })) return;
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(
        { items: state.items, audience: state.audience === undefined ? 'unset' : state.audience, context: state.context }));
    } catch (e) { /* storage blocked: memory only */ }
  }
  function forget() {
    if (!persist) return;
    try { sessionStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
  }
  function restore() {
    if (!persist) return;
    try {
      var s = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
      if (!isObj(s) || !Array.isArray(s.items)) return;
      state.items = s.items.filter(isObj);
      state.audience = s.audience === 'unset' ? undefined : (s.audience || null);
      state.context = isObj(s.context) ? s.context : null;
    } catch (e) { /* ignore broken data */ }
  }

  var sayTimer;
  function say(text) {
    // The delay lets screen readers notice a change; a newer message cancels an older one,
    // so "typing" can never land after the answer it announced.
    clearTimeout(sayTimer);
    status.textContent = '';
    if (text) sayTimer = setTimeout(function () { status.textContent = text; }, 50);
  }

  // ---------- rendering ----------
  function replies(list, labelText, cls) {
    var label = h('p', { class: 'sp-replies-label', text: labelText });
    var id = 'sp-r' + Math.random().toString(36).slice(2, 8);
    label.id = id;
    var group = h('div', { class: 'sp-replies ' + (cls || ''), role: 'group', 'aria-labelledby': id });
    list.forEach(function (r) {
      group.append(h('button', {
        type: 'button', class: 'sp-reply', onclick: function () { r.act(); }
      }, r.label));
    });
    return h('div', { class: 'sp-replies-wrap' }, [label, group]);
  }
  function suggestionReplies(list, labelText, cls) {
    var items = (Array.isArray(list) ? list : []).filter(isObj).map(function (s) {
      var label = str(s.label) || str(s.title) || str(s.message);
      var msg = str(s.message) || label;
      return label ? { label: label, act: function () { send(msg, label); } } : null;
    }).filter(Boolean);
    return items.length ? replies(items, labelText, cls) : null;
  }

  // ---------- helplines: open now, contact channels ----------
  function mins(t) {
    var m = /^(\d\d?):(\d\d)$/.exec(str(t));
    return m ? m[1] * 60 + +m[2] : -1;
  }
  function londonNow() {
    var p = {};
    new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', weekday: 'short', hour: 'numeric',
      minute: 'numeric', hourCycle: 'h23' }).formatToParts(new Date()).forEach(function (x) { p[x.type] = x.value; });
    return { d: DAYS.indexOf(str(p.weekday).slice(0, 3).toLowerCase()), m: p.hour * 60 + +p.minute };
  }
  // {open: true|false|null, text}: from `opening` (Europe/London) when given, else the server's open_now.
  function openInfo(sp) {
    var slots = (Array.isArray(sp.opening) ? sp.opening : []).filter(isObj);
    if (!slots.length) {
      var o = typeof sp.open_now === 'boolean' ? sp.open_now : null;
      return { open: o, text: o ? 'Open now' : o === false ? 'Closed now' : str(sp.hours) };
    }
    var now = londonNow(), until = '', wait = 1e9, next;
    slots.forEach(function (x) {
      var from = mins(x.opens), to = mins(x.closes), days = Array.isArray(x.days) ? x.days : [];
      if (from < 0 || to < 0) return;
      if (to <= from) to += 1440; // closes after midnight
      for (var k = -1; k < 8; k++) {
        if (days.indexOf(DAYS[(now.d + k + 7) % 7]) < 0) continue;
        var a0 = k * 1440 + from - now.m;
        if (a0 <= 0 && k * 1440 + to - now.m > 0) until = str(x.closes);
        else if (a0 > 0 && a0 < wait) { wait = a0; next = [k, str(x.opens)]; }
      }
    });
    if (until) return { open: true, text: 'Open now, until ' + until };
    if (!next) return { open: null, text: str(sp.hours) };
    return { open: false, text: 'Closed now. Opens ' +
      (next[0] ? next[0] > 1 ? 'on ' + DAY_NAMES[(now.d + next[0]) % 7] : 'tomorrow' : 'today') + ' at ' + next[1] };
  }
  function channels(sp) {
    if (Array.isArray(sp.channels) && sp.channels.length) return sp.channels.filter(isObj);
    var c = [], web = sp.contact_url || sp.url;
    if (sp.phone) c.push({ kind: 'phone', value: sp.phone, label: 'Call ' + str(sp.phone) });
    if (sp.sms) c.push({ kind: 'text', value: sp.sms, label: str(sp.text) || 'Text ' + str(sp.sms) });
    if (web) {
      c.push({ kind: 'web', value: web,
        label: sp.contact_url ? 'Contact ' + str(sp.name) + ' online' : str(sp.name) + ' website' });
    }
    if (sp.email) c.push({ kind: 'email', value: sp.email, label: 'Email ' + str(sp.email) });
    return c;
  }
  function action(c, name, cls) {
    var v = str(c.value), label = str(c.label) || v, t = telHref(v);
    var href = c.kind === 'phone' ? t : c.kind === 'text' ? t && 'sms:' + t.slice(4)
      : c.kind === 'email' ? /^[^\s@<>()]+@[\w-]+(\.[\w-]+)+$/.test(v) && 'mailto:' + v : safeHref(v);
    if (!label) return null;
    if (!href) return h('p', { class: 'sp-card-desc', text: label });
    return a(href, cls, [label, label.indexOf(name) < 0 ? sr(', ' + name) : null]);
  }
  function card(sp, primary) {
    var name = str(sp.name) || 'Get help', o = openInfo(sp);
    var el = h('div', { class: 'sp-card' + (primary ? ' sp-card-primary' : '') }, [
      h('p', { class: 'sp-card-name', text: name }),
      sp.description ? h('p', { class: 'sp-card-desc', text: str(sp.description) }) : null,
      o.text ? h('p', { class: 'sp-card-desc' + (o.open ? ' sp-open-now' : ''), text: o.text }) : null]);
    var acts = channels(sp).map(function (c, i) { return action(c, name, i ? 'sp-web' : 'sp-call'); })
      .filter(Boolean);
    if (acts.length) el.append(h('div', { class: 'sp-card-actions' }, acts[0]));
    if (acts.length > 1) {
      el.append(h('details', { class: 'sp-ways' }, [h('summary', null, ['More ways', sr(' to contact ' + name)]),
        h('div', { class: 'sp-card-actions' }, acts.slice(1))]));
    }
    return el;
  }
  function cards(list, primary) {
    return list.length ? h('div', { class: 'sp-cards' }, list.map(function (s, i) {
      return card(s, primary && i === 0);
    })) : null;
  }
  // Talk to someone now: the audience's list from GET /api/helplines, closed services last.
  var help = {}, helpP = {};
  function offlineTalk(aud) {
    var other = aud === 'parent' ? 'childline' : 'nspcc_helpline';
    return OFFLINE_HELP.filter(function (s) { return s.id !== 'emergency' && s.id !== other; });
  }
  function talkList(aud) {
    aud = aud === 'parent' ? aud : 'young_person';
    var l = help[aud] || offlineTalk(aud);
    return l.map(function (s, i) { return [openInfo(s).open === false, i, s]; })
      .sort(function (x, y) { return x[0] - y[0] || x[1] - y[1]; }).map(function (x) { return x[2]; });
  }
  function loadHelp(aud) {
    aud = aud === 'parent' ? aud : 'young_person';
    if (!helpP[aud]) {
      helpP[aud] = request('/api/helplines?audience=' + aud).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          var l = (Array.isArray(j) ? j : isObj(j) && Array.isArray(j.helplines) ? j.helplines : []).filter(isObj);
          if (l.length) help[aud] = l; else helpP[aud] = null; // older server: offline list
        }, function () { helpP[aud] = null; });
    }
    return helpP[aud];
  }
  function talkBlock(aud) {
    var box = h('div', { class: 'sp-talk' });
    function fill() {
      box.replaceChildren(h('p', { class: 'sp-talk-title', text: 'Talk to someone now' }), cards(talkList(aud)));
    }
    fill();
    if (!help[aud === 'parent' ? aud : 'young_person']) loadHelp(aud).then(fill);
    return box;
  }
  function ids(list) { return list.map(function (s) { return s.id; }); }

  function bubble(cls, kids) { return h('div', { class: 'sp-msg ' + cls }, kids); }

  function feedback(item) {
    var box = h('div', { class: 'sp-fb' });
    if (item.fb) { box.append(h('p', { text: 'Thanks for telling us.', tabindex: '-1' })); return box; }
    var id = 'sp-f' + Math.random().toString(36).slice(2, 8);
    function vote(yes) {
      item.fb = true;
      store();
      var done = feedback(item);
      box.replaceWith(done);
      done.firstChild.focus();
      // Only the answer's intent id and yes/no: no text, no identifiers.
      request('/api/feedback', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ intent: item.res.intent, helpful: yes }) }).catch(function () {});
    }
    box.append(h('p', { id: id, text: 'Was this helpful?' }), h('div', { role: 'group', 'aria-labelledby': id }, [
      h('button', { type: 'button', class: 'sp-tool', onclick: function () { vote(true); } }, 'Yes'),
      h('button', { type: 'button', class: 'sp-tool', onclick: function () { vote(false); } }, 'No')]));
    return box;
  }
  function renderBot(item, last) {
    var res = item.res;
    var safety = res.safety === 'emergency' || res.safety === 'urgent' ? res.safety : 'none';
    var msg = bubble('sp-bot' + (safety !== 'none' ? ' sp-alert sp-' + safety : ''));
    var sps = (Array.isArray(res.signposts) ? res.signposts : []).filter(isObj);
    var body = [h('div', { class: 'sp-text' }, markdown(res.answer))];
    if (str(res.more).trim()) {
      body.push(h('details', { class: 'sp-more' }, [h('summary', { text: 'Tell me more' }),
        h('div', { class: 'sp-text' }, markdown(res.more))]));
    }
    if (safety === 'none') msg.append.apply(msg, body.concat(cards(sps) || []));
    else {
      // Urgent or emergency: the emergency card first, then people to talk to now, then the answer.
      var talk = ids(talkList(state.audience));
      var nines = sps.filter(function (s) { return s.id === 'emergency'; });
      var rest = sps.filter(function (s) { return s.id !== 'emergency' && talk.indexOf(s.id) < 0; });
      msg.append(h('p', { class: 'sp-alert-title', text: safety === 'emergency' ? 'Get help now' : 'Please talk to someone' }),
        cards(safety === 'emergency' ? nines : [], true) || '', talkBlock(state.audience));
      msg.append.apply(msg, body.concat(cards(safety === 'emergency' ? rest : nines.concat(rest)) || []));
    }
    if (safety !== 'emergency' && typeof res.intent === 'string') msg.append(feedback(item));
    var out = [msg];
    if (last) {
      // A fallback's suggestions are "did you mean" choices, unless the API says otherwise.
      var dym = res.intent === 'fallback' && res.did_you_mean !== false;
      var r = suggestionReplies(res.suggestions, dym ? 'Did you mean:' : 'You could ask:', dym ? 'sp-dym' : '');
      if (r) out.push(r);
    }
    return out;
  }
  function renderError(item) {
    var text;
    if (item.code === 429) {
      var s = parseInt(item.retry, 10);
      text = 'Sorry, a lot of messages have been sent in a short time. Please wait ' +
        (s > 0 && s <= 120 ? 'about ' + s + ' seconds' : 'a few minutes') + ' and try again.';
    } else if (item.code === 413) text = 'Sorry, that message is too long. Please try a shorter one.';
    else if (item.code === 422) text = item.detail || "Sorry, I couldn't read that message. Please try different words.";
    else text = "Sorry, I can't connect right now. Please try again in a little while.";
    var help = OFFLINE_HELP.slice(0, 3);
    if (state.audience === 'parent') help.unshift(help.splice(1, 1)[0]);
    return [bubble('sp-bot sp-error', [h('p', { text: text }), h('p', { text: 'You can still talk to someone now:' }),
      cards(help)])];
  }
  function renderItem(item, last) {
    if (item.type === 'user') return [bubble('sp-user', [sr('You said: '), h('span', { text: str(item.text) })])];
    if (item.type === 'bot' && isObj(item.res)) return renderBot(item, last);
    if (item.type === 'talk') return [bubble('sp-bot', talkBlock(state.audience))];
    if (item.type === 'about') {
      return [bubble('sp-bot', [h('p', { class: 'sp-talk-title', text: 'About this chat' }),
        h('div', { class: 'sp-text' }, markdown(
          "- It gives automatic answers. It's a computer, not a person.\n" +
          "- It can't see who you are, and it can't tell anyone or send help.\n" +
          "- What you type is only used to find an answer. We don't save it. " + kept + '\n' +
          '- If you or someone else is in danger right now, call ' + OFFLINE_HELP[2].phone + '.\n' +
          "- Tip: leaving with Quick exit doesn't clear your browser history. " +
          'To hide this visit, delete it from your history, or use a private window.'))])];
    }
    if (item.type === 'error') return renderError(item);
    if (item.type === 'intro') return [bubble('sp-bot', h('div', { class: 'sp-text' }, markdown(greeting)))];
    if (item.type === 'audience') {
      var out = [bubble('sp-bot', h('p', { text: 'Who is using this?' }))];
      if (last) {
        out.push(replies([
          { label: "I'm a young person", act: function () { chooseAudience('young_person', "I'm a young person"); } },
          { label: "I'm a parent or carer", act: function () { chooseAudience('parent', "I'm a parent or carer"); } },
          { label: 'Skip', act: function () { chooseAudience(null, 'Skip'); } }
        ], 'Choose one:', 'sp-audience'));
      }
      return out;
    }
    if (item.type === 'welcome') {
      var w = [bubble('sp-bot', h('p', { text: 'Thanks. Ask me a question in your own words, or choose a topic.' }))];
      if (last) {
        var t = suggestionReplies((topics || []).slice(0, MAX_TOPICS), 'Topics:', 'sp-topics');
        if (t) w.push(t);
      }
      return w;
    }
    return [];
  }
  function dropReplies() {
    [].slice.call(log.querySelectorAll('.sp-replies-wrap')).forEach(function (el) { el.remove(); });
  }
  function add(item) {
    dropReplies();
    state.items.push(item);
    store();
    var nodes = renderItem(item, true);
    nodes.forEach(function (n) { log.insertBefore(n, typing); });
    // Show the start of a new answer; a user's own message just scrolls to the end.
    var first = nodes[0];
    var top = item.type === 'user' ? log.scrollHeight : Math.max(0, first.offsetTop - 8);
    log.scrollTop = top;
  }
  function renderAll() {
    log.replaceChildren();
    state.items.forEach(function (item, i) {
      renderItem(item, i === state.items.length - 1).forEach(function (n) { log.append(n); });
    });
    log.append(typing);
    log.scrollTop = log.scrollHeight;
  }

  // ---------- network ----------
  function request(path, opts) {
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctrl && setTimeout(function () { ctrl.abort(); }, 15000);
    var o = Object.assign({
      credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', mode: 'cors',
      signal: ctrl ? ctrl.signal : undefined
    }, opts || {});
    return fetch(api + path, o).finally(function () { if (timer) clearTimeout(timer); });
  }
  // The topic menu in the audience's own words (GET /api/topics?audience=); every topic when skipped.
  function loadTopics(aud) {
    var key = aud || '';
    if (!topicsP[key]) {
      topicsP[key] = request('/api/topics' + (aud ? '?audience=' + aud : '')).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          var list = isObj(j) && Array.isArray(j.topics) ? j.topics.filter(isObj).map(function (t) {
            return { label: str(t.title), message: str(t.message) || str(t.title) };
          }) : [];
          if (!list.length) delete topicsP[key]; // try again next time
          return list;
        }, function () { delete topicsP[key]; return []; });
    }
    return topicsP[key].then(function (list) { topics = list; return list; });
  }

  function setBusy(on) {
    busy = on;
    typing.hidden = !on;
    sendBtn.setAttribute('aria-disabled', on ? 'true' : 'false');
    if (on) { log.scrollTop = log.scrollHeight; say(title + ' is typing'); } else say('');
  }

  function chooseAudience(aud, label) {
    if (busy) return;
    state.audience = aud;
    add({ type: 'user', text: label });
    input.focus();
    var g = gen;
    setBusy(true);
    loadTopics(aud).then(function () {
      if (g !== gen) return;
      setBusy(false);
      add({ type: 'welcome' });
    });
  }

  function send(text, label) {
    text = str(text).trim();
    if (!text) { say('Please type a question first.'); input.focus(); return; }
    if (busy) { say('Please wait for the answer.'); return; }
    if (text.length > MAX_LEN) { say('That message is too long.'); return; }
    if (state.audience === undefined) state.audience = null; // typed without choosing: skip
    var hadFocus = root.activeElement;
    add({ type: 'user', text: label || text });
    if (!hadFocus || !hadFocus.isConnected || hadFocus === sendBtn) input.focus();
    var g = gen;
    setBusy(true);
    request('/api/chat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: text, audience: state.audience || null, context: state.context })
    }).then(function (r) {
      if (r.ok) {
        return r.json().then(function (res) {
          if (!isObj(res) || typeof res.answer !== 'string') throw new Error('bad response');
          return res;
        });
      }
      return r.json().catch(function () { return {}; }).then(function (j) {
        var d = isObj(j) && typeof j.detail === 'string' && j.detail.length < 200 ? j.detail : '';
        return { error: r.status, retry: r.headers.get('Retry-After'), detail: d };
      });
    }).catch(function () { return { error: 0 }; }).then(function (res) {
      if (g !== gen) return; // cleared or exited meanwhile
      setBusy(false);
      if (res.error != null) {
        add({ type: 'error', code: res.error, retry: res.retry, detail: res.detail });
        return;
      }
      state.context = isObj(res.context) ? res.context : null;
      add({ type: 'bot', res: res });
    });
  }

  function start() {
    state.items = [];
    state.audience = undefined;
    state.context = null;
    log.replaceChildren(typing);
    add({ type: 'intro' });
    add({ type: 'audience' });
  }

  // ---------- open / close / clear / exit ----------
  function isOpen() { return !panel.hidden; }
  function open() {
    if (isOpen()) return;
    panel.hidden = false;
    panel.setAttribute('aria-modal', SMALL.matches ? 'true' : 'false');
    launcher.setAttribute('aria-expanded', 'true');
    wrap.classList.add('sp-open');
    loadTopics();
    if (!state.items.length) start();
    var choice = log.querySelector('.sp-audience .sp-reply');
    (choice || input).focus();
  }
  function close() {
    if (!isOpen()) return;
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    wrap.classList.remove('sp-open');
    launcher.focus();
  }
  function clear() {
    gen++;
    setBusy(false);
    forget();
    input.value = '';
    start();
    say('Chat cleared.');
    var choice = log.querySelector('.sp-audience .sp-reply');
    (choice || input).focus();
  }
  function quickExit() {
    // Hide at once, forget everything, then leave without adding a history entry.
    cover.hidden = false;
    wrap.hidden = true;
    gen++;
    state.items = [];
    state.context = null;
    state.audience = undefined;
    log.replaceChildren(typing);
    input.value = '';
    forget();
    location.replace(exitUrl);
  }

  launcher.addEventListener('click', function () { if (isOpen()) close(); else open(); });
  closeBtn.addEventListener('click', close);
  exitBtn.addEventListener('click', quickExit);
  clearBtn.addEventListener('click', clear);
  talkBtn.addEventListener('click', function () { add({ type: 'talk' }); });
  aboutBtn.addEventListener('click', function () { add({ type: 'about' }); });
  if (pageExit) pageExit.addEventListener('click', quickExit);
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (busy) { say('Please wait for the answer.'); return; }
    var v = input.value;
    if (v.trim()) input.value = '';
    send(v);
  });
  // Full screen (small screens, high zoom): the panel covers the page, so it acts as a modal
  // dialog and Tab cycles inside it instead of reaching hidden page content.
  var SMALL = window.matchMedia('(max-width: 480px), (max-height: 560px)');
  function focusables() {
    return [].slice.call(panel.querySelectorAll('button, a[href], input, [tabindex="0"]'))
      .filter(function (el) { return el.getClientRects().length; });
  }
  root.addEventListener('keydown', function (e) {
    if (!isOpen()) return;
    if (e.key === 'Escape') { e.stopPropagation(); close(); return; }
    if (e.key !== 'Tab' || !SMALL.matches) return;
    var f = focusables(), first = f[0], last = f[f.length - 1], at = root.activeElement;
    if (e.shiftKey && (at === first || !panel.contains(at))) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && (at === last || !panel.contains(at))) { e.preventDefault(); first.focus(); }
  });

  // Shift pressed 3 times within 5 seconds, anywhere on the page (like GOV.UK "Exit this page").
  // Each press is shown and announced: "Shift pressed 1 of 3".
  var shifts = [], shiftTimer;
  function shiftSay(text) {
    shiftNote.textContent = text;
    clearTimeout(shiftTimer);
    if (text) shiftTimer = setTimeout(shiftSay, 5000, '');
  }
  doc.addEventListener('keydown', function (e) {
    if (e.key !== 'Shift') { shifts = []; if (shiftNote.textContent) shiftSay(''); return; }
    if (e.repeat) return;
    var now = Date.now();
    shifts = shifts.filter(function (t) { return now - t < 5000; });
    shifts.push(now);
    var n = shifts.length;
    if (n >= 3) { shifts = []; shiftSay(''); quickExit(); }
    else shiftSay('Shift pressed ' + n + ' of 3. Press ' + (3 - n) + ' more time' + (n < 2 ? 's' : '') + ' to leave this page.');
  }, true);

  function mount() {
    restore();
    if (state.items.length) renderAll(); else log.append(typing);
    doc.body.append(host);
  }
  if (doc.body) mount(); else doc.addEventListener('DOMContentLoaded', mount);
})();

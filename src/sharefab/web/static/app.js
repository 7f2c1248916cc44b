/* sharefab pages: draws the charts described by <div data-chart="kind"> + a JSON <script>,
   shows progress on long form posts, and wires the capacity calendar's drag-to-select. */
(function () {
  "use strict";
  var PALETTE = ["#1d6fb8", "#2a9d8f", "#e9a23b", "#8e6bbf", "#d1495b", "#4c9f70", "#5c7cfa", "#b5838d", "#6c757d", "#f08c00"];
  var charts = [];

  function fmtTime(ms) {
    var d = new Date(ms);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  function gantt(spec) {
    var rows = spec.rows;
    var colors = spec.colors || {};
    function renderItem(params, api) {
      var row = api.value(0);
      var start = api.coord([api.value(1), row]);
      var end = api.coord([api.value(2), row]);
      var band = api.size([0, 1])[1];
      var isWindow = api.value(4) === 1;
      var h = Math.min(isWindow ? band * 0.86 : band * 0.56, isWindow ? 34 : 24);
      var rect = echarts.graphic.clipRectByRect(
        { x: start[0], y: start[1] - h / 2, width: Math.max(end[0] - start[0], 2), height: h },
        { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height });
      if (!rect) return;
      var item = spec.items[params.dataIndex];
      var style = isWindow
        ? { fill: "#e3f0e8", stroke: "#9fd0b2", lineWidth: 1 }
        : { fill: colors[item.group] || PALETTE[(item.colorIndex || 0) % PALETTE.length],
            stroke: item.critical ? "#b3261e" : "#ffffff", lineWidth: item.critical ? 2 : 1,
            opacity: spec.fadeOthers && !item.critical ? 0.4 : 1 };
      var children = [{ type: "rect", shape: rect, style: style }];
      if (!isWindow && item.label && rect.width > 46) {
        children.push({ type: "text", style: { text: item.label, x: rect.x + 4, y: rect.y + rect.height / 2,
          verticalAlign: "middle", fill: "#fff", fontSize: 11, width: rect.width - 8, overflow: "truncate" } });
      }
      return { type: "group", children: children };
    }
    var data = spec.items.map(function (it) { return [it.row, it.start, it.end, it.id || 0, it.window ? 1 : 0]; });
    var option = {
      tooltip: { formatter: function (p) { var it = spec.items[p.dataIndex]; return it.tooltip || (it.label + "<br>" + fmtTime(it.start) + " – " + fmtTime(it.end)); } },
      grid: { left: 8, right: 24, top: 28, bottom: 56, containLabel: true },
      dataZoom: [{ type: "slider", xAxisIndex: 0, filterMode: "weakFilter", height: 18, bottom: 10 }, { type: "inside", xAxisIndex: 0, filterMode: "weakFilter" }],
      xAxis: { type: "time", position: "top", min: spec.min, max: spec.max, splitLine: { show: true, lineStyle: { color: "#eef1f4" } } },
      yAxis: { type: "category", data: rows, inverse: true, axisTick: { show: false }, axisLabel: { width: 170, overflow: "truncate", interval: 0 } },
      series: [{ type: "custom", renderItem: renderItem, encode: { x: [1, 2], y: 0 }, data: data,
        markLine: { silent: true, symbol: "none", data: [].concat(
          spec.now ? [{ xAxis: spec.now, lineStyle: { color: "#b3261e", type: "dashed" }, label: { formatter: spec.nowLabel || "now", position: "end", color: "#b3261e" } }] : [],
          spec.due ? [{ xAxis: spec.due, lineStyle: { color: "#0f4c81", type: "solid", width: 2 }, label: { formatter: spec.dueLabel || "due", position: "end", color: "#0f4c81" } }] : []) } }]
    };
    if (spec.brush) {
      option.brush = { toolbox: ["rect", "clear"], xAxisIndex: 0, yAxisIndex: 0, throttleType: "debounce", throttleDelay: 200,
        brushStyle: { color: "#1d6fb833", borderColor: "#1d6fb8" } };
      option.toolbox = { right: 20, top: -4, feature: { brush: { type: ["rect", "clear"], title: spec.brushTitles || {} } } };
    }
    return option;
  }

  function heatmap(spec) {
    return {
      tooltip: { position: "top", formatter: function (p) { return spec.y[p.value[1]] + "<br>" + spec.x[p.value[0]] + ": " + Math.round(p.value[2] * 100) + "%"; } },
      grid: { left: 8, right: 16, top: 10, bottom: 60, containLabel: true },
      xAxis: { type: "category", data: spec.x, splitArea: { show: true } },
      yAxis: { type: "category", data: spec.y, inverse: true, axisLabel: { width: 160, overflow: "truncate", interval: 0, fontSize: 11 } },
      visualMap: { min: 0, max: 1, calculable: true, orient: "horizontal", left: "center", bottom: 4, itemHeight: 200,
        inRange: { color: ["#f4f8fb", "#bfe0cf", "#52b788", "#e9a23b", "#d1495b"] },
        formatter: function (v) { return Math.round(v * 100) + "%"; } },
      series: [{ type: "heatmap", data: spec.data, emphasis: { itemStyle: { borderColor: "#333", borderWidth: 1 } } }]
    };
  }

  function bar(spec) {
    var horizontal = !!spec.horizontal;
    var cat = { type: "category", data: spec.categories, axisLabel: { width: 150, overflow: "truncate", interval: 0, rotate: horizontal ? 0 : (spec.rotate || 0) } };
    if (horizontal) cat.inverse = true;
    var val = { type: "value", name: spec.unit || "", max: spec.max };
    return {
      color: spec.colors || PALETTE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: spec.series.length > 1 ? { type: "scroll", top: 0 } : undefined,
      grid: { left: 8, right: 20, top: spec.series.length > 1 ? 34 : 16, bottom: 8, containLabel: true },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? cat : val,
      series: spec.series.map(function (s) {
        return { name: s.name, type: "bar", stack: spec.stacked ? "all" : undefined, data: s.data, barMaxWidth: 34,
          label: spec.labels ? { show: true, position: horizontal ? "right" : "top", fontSize: 11 } : undefined };
      })
    };
  }

  function donut(spec) {
    return {
      color: spec.colors || PALETTE,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { type: "scroll", orient: "vertical", right: 0, top: "middle" },
      series: [{ type: "pie", radius: ["45%", "72%"], center: ["38%", "50%"], avoidLabelOverlap: true,
        label: { show: false }, data: spec.data }]
    };
  }

  function gauge(spec) {
    return {
      series: [{ type: "gauge", min: 0, max: spec.max || 1000, startAngle: 200, endAngle: -20, radius: "95%", center: ["50%", "60%"],
        progress: { show: true, width: 14, itemStyle: { color: "#1d6fb8" } }, axisLine: { lineStyle: { width: 14 } },
        splitLine: { length: 8 }, axisTick: { show: false }, axisLabel: { distance: 18, fontSize: 10 }, pointer: { show: false },
        detail: { valueAnimation: true, fontSize: 30, fontWeight: 800, offsetCenter: [0, "-5%"], color: "#0f4c81" },
        title: { offsetCenter: [0, "30%"], fontSize: 12 }, data: [{ value: spec.value, name: spec.label || "" }] }]
    };
  }

  var KINDS = { gantt: gantt, heatmap: heatmap, bar: bar, donut: donut, gauge: gauge };

  function draw(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var src = document.getElementById(el.dataset.source);
      if (!src || typeof echarts === "undefined") return;
      var spec = JSON.parse(src.textContent);
      if (el.dataset.chart === "gantt" && spec.rows) {
        el.style.height = Math.max(200, Math.min(2400, 110 + spec.rows.length * 26)) + "px";
      }
      var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
      var chart = echarts.init(el, null, { renderer: "canvas", locale: zh ? "ZH" : "EN" });
      chart.setOption(KINDS[el.dataset.chart](spec));
      el.dataset.drawn = "1";
      el.setAttribute("data-ready", "1");
      charts.push(chart);
      if (spec.brush && spec.brush.form) wireBrush(chart, spec);
      if (spec.clickForm) wireClick(chart, spec);
    });
  }

  function toLocalInput(ms, tzOffsetMinutes) {
    var d = new Date(ms + tzOffsetMinutes * 60000);
    return d.toISOString().slice(0, 16);
  }

  function wireBrush(chart, spec) {
    var form = document.getElementById(spec.brush.form);
    // Dragging on the calendar selects a span at once (no need to pick the tool first).
    chart.dispatchAction({ type: "takeGlobalCursor", key: "brush", brushOption: { brushType: "rect", brushMode: "single" } });
    chart.on("brushSelected", function (params) {
      var area = params.batch[0] && params.batch[0].areas[0];
      if (!area || !area.coordRange) return;
      var xs = area.coordRange[0], ys = area.coordRange[1];
      var step = 15 * 60000;
      form.querySelector("[name=starts_at]").value = toLocalInput(Math.round(xs[0] / step) * step, spec.tzOffset);
      form.querySelector("[name=ends_at]").value = toLocalInput(Math.round(xs[1] / step) * step, spec.tzOffset);
      if (spec.resourceIds && ys) {
        var row = Math.max(0, Math.min(spec.resourceIds.length - 1, Math.round(ys[0])));
        form.querySelector("[name=resource_id]").value = String(spec.resourceIds[row]);
      }
      form.classList.add("highlight");
      form.querySelector("[name=starts_at]").focus();
    });
  }

  function wireClick(chart, spec) {
    chart.on("click", function (p) {
      var it = spec.items[p.dataIndex];
      if (!it || !it.window) return;
      var form = document.getElementById(spec.clickForm);
      var select = form.querySelector("[name=window_id]");
      if (!select.querySelector('option[value="' + it.id + '"]')) {
        var option = document.createElement("option");
        option.value = String(it.id);
        option.textContent = it.tooltip.replace(/<br>/g, " · ");
        select.appendChild(option);
      }
      select.value = String(it.id);
      var label = form.querySelector("[data-selected]");
      if (label) label.textContent = it.tooltip.replace(/<br>/g, " · ");
      select.focus();
    });
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    document.querySelectorAll("form[data-busy]").forEach(function (f) {
      f.addEventListener("submit", function () {
        f.classList.add("busy");
        f.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      });
    });
  });
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.target); });

  // Re-optimisation progress: the solver runs up to its time limit; fill the bar over it.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var bar = e.target.querySelector && e.target.querySelector("[data-progress]");
    if (!bar) return;
    var limit = parseFloat(bar.dataset.progress) * 1000, t0 = Date.now();
    var fill = bar.querySelector("div"), label = e.target.querySelector("[data-elapsed]");
    var timer = setInterval(function () {
      var f = Math.min(0.97, (Date.now() - t0) / limit);
      fill.style.width = (f * 100).toFixed(1) + "%";
      if (label) label.textContent = Math.round((Date.now() - t0) / 1000) + " s";
    }, 250);
    e.target.addEventListener("htmx:afterRequest", function () { clearInterval(timer); fill.style.width = "100%"; }, { once: true });
  });
})();

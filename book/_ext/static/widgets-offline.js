// Loaded on pages with static ipywidgets, after require.js and before embed-amd.js
// (see nb_ipywidgets_js in _config.yml). Two fixes for serving the widget manager locally:
(function () {
  "use strict";
  // 1. embed-amd.js finds its icon fonts from its AMD module URL (and from
  //    window.__jupyter_widgets_assets_path__); by default that URL is the module id
  //    "@jupyter-widgets/html-manager/dist/...", resolved next to the page. Map the id to
  //    _static/widgets/, where scripts/fetch_widget_js.sh put the fonts.
  var here = (document.currentScript && document.currentScript.src) || "";
  if (here) {
    var widgets = here.replace(/[^\/]*$/, "") + "widgets";
    window.__jupyter_widgets_assets_path__ = widgets + "/";
    if (window.require && window.require.config) {
      window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": widgets } });
    }
  }
  // 2. @jupyter-widgets/base typesets labels with the MathJax 2 API (MathJax.Hub.Queue), but the
  //    book loads MathJax 3. Map the calls onto MathJax.typesetPromise. Installed once the
  //    deferred MathJax script has run (before the widget manager renders on "load").
  function installHub() {
    var mj = window.MathJax;
    if (!mj || mj.Hub) return;
    mj.Hub = {
      Queue: function () {
        var elements = [];
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && job[2]) elements.push(job[2]);
        }
        var ready = mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
        ready.then(function () {
          if (elements.length && mj.typesetPromise) return mj.typesetPromise(elements);
        }).catch(function (error) { console.warn("MathJax typeset of a widget label failed:", error); });
      }
    };
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", installHub);
  } else {
    installHub();
  }
})();

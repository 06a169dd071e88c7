// Loaded at the top of <body> (not inline, so a strict Content-Security-Policy holds).
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");

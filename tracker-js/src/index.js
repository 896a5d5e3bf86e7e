// placeholder
window.crumb = window.crumb || {};

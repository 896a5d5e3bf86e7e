// A "performance" tag loaded from a URL: it must run before the inline one after it.
window.log.push('perf-external');
document.cookie = '_ga=GA1.2.3.4;path=/';
document.cookie = '_ga_ABC=GS1;path=/';

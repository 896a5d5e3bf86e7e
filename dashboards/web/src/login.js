// The login page: shows the error the server put in the URL and keeps the
// page the user wanted.
const params = new URLSearchParams(location.search);
const next = params.get('next');
if (next && next.startsWith('/') && !next.startsWith('//')) document.getElementById('next').value = next;
const err = params.get('error');
if (err) {
  const el = document.getElementById('error');
  el.textContent = err;
  el.hidden = false;
}

window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img'));
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-figures-total', String(imgs.length));
  document.body.setAttribute('data-figures-ok', String(ok.length));
  document.body.setAttribute('data-figures-loaded',
    imgs.length > 0 && ok.length === imgs.length ? 'all' : 'missing');
});

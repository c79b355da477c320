// 4. The data: which data set the page trains on (MNIST or Fashion-MNIST),
// and the words that name what its pictures are. Another data set is
// another page: the same address with ?dataset=.
import { $, page, params, selectById } from './page.js';

export function setupDataset() {
  const { C, D } = page;
  const picker = selectById('dataset');
  for (const d of C.datasets) picker.add(new Option(d.name, d.id));
  picker.value = D.id;
  picker.addEventListener('change', () => {
    // The page's own settings stay; a link's run does not (it was on the other set).
    const next = new URLSearchParams();
    for (const k of C.page_keys) if (params.has(k)) next.set(k, params.get(k));
    next.set('dataset', picker.value);
    location.search = next.toString();
  });
  for (const el of document.querySelectorAll('.dataset-name')) el.textContent = D.name;
  for (const el of document.querySelectorAll('.image-noun')) el.textContent = D.image_noun;
  $('hub-repo').textContent = D.repo;
}

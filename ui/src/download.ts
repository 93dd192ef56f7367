// In the page only (a DOM API); ui/src/csv.ts stays pure, for the server's tests share its table.
/** Saves `text` as a file named `filename` that the browser downloads (a Blob URL, released after). */
export function download(text: string, filename: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

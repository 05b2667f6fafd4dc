// Copy buttons: <button data-copy="ID"> copies the text of the element with that id.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).innerText;
  navigator.clipboard.writeText(text).then(() => { button.textContent = "Copied"; });
});

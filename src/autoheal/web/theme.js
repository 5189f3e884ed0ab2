// Follows the system's light or dark setting (Bootstrap 5.3 colour modes); loaded before the CSS to avoid a flash.
(() => {
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => document.documentElement.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  apply();
  dark.addEventListener("change", apply);
})();

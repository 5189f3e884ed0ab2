// Loads the page's modules. A module graph that lost a file on the way (say, the network changed) cannot retry
// by itself, so the page reloads a few times, with a word on the banner, before it gives up.
(() => {
  const KEY = "autoheal.loadAttempts";
  const say = (text) => {
    const banner = document.getElementById("banner");
    banner.textContent = text;
    banner.hidden = false;
  };
  const failed = (error) => {
    const attempts = Number(sessionStorage.getItem(KEY) || 0);
    if (attempts < 5) {
      sessionStorage.setItem(KEY, String(attempts + 1));
      say("The page did not load completely; trying again…");
      setTimeout(() => window.location.reload(), 1000 * (attempts + 1));
    } else {
      sessionStorage.removeItem(KEY);
      say(`The page could not load (${error && error.message ? error.message : error}); reload it to try again.`);
    }
  };
  if (typeof window.bootstrap === "undefined") {
    failed(new Error("Bootstrap's script did not load"));
    return;
  }
  import("/ui/main.js").then(() => sessionStorage.removeItem(KEY), failed);
})();

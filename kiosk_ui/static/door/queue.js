// Scans waiting for the appliance's answer, in IndexedDB: every scan is written here *before*
// it is sent, and removed only once the appliance has answered it.  A reload, a crash or a
// phone that runs out of battery keeps them; they are sent again in the order they were made,
// each with its own nonce, so the appliance records each one once however often it is sent.
const DB = "konferenco-door";
const STORE = "scans";
let opened = null;

function open() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

async function run(mode, work, durability = "strict") {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode, { durability });
    const request = work(tx.objectStore(STORE));
    let result;
    if (request) request.onsuccess = () => (result = request.result);
    tx.oncomplete = () => resolve(result); // committed: on disk before the page says "saved"
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const queue = {
  // Flushed to disk before the page says "saved": this is the only copy of the scan.
  add: (scan) => run("readwrite", (store) => store.add(scan)),
  // Relaxed: a removal lost in a crash only sends an answered scan again, and its nonce makes
  // the appliance answer it with its first answer (replayed), never a second check-in.
  remove: (seq) => run("readwrite", (store) => store.delete(seq), "relaxed"),
  oldest: (count = 1) => run("readonly", (store) => store.getAll(null, count)),
  count: () => run("readonly", (store) => store.count()),
};

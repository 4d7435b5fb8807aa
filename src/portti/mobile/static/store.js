// The app's private storage: one IndexedDB object store of named records. The device key is a
// non-extractable CryptoKey: IndexedDB keeps the key object, and script can sign with it but can
// never read the private half. Nothing here can check a PIN (the server checks PINs).

const DB_NAME = "portti-app";
const STORE = "state";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const store = {
  get: (name) => run("readonly", (s) => s.get(name)),
  set: (name, value) => run("readwrite", (s) => s.put(value, name)),
  remove: (name) => run("readwrite", (s) => s.delete(name)),
  clear: () => run("readwrite", (s) => s.clear()),
};

// A sound and a vibration per result, so a volunteer looking at the queue, not the screen,
// still knows: generated with Web Audio (no audio files to cache), patterns told apart by
// rhythm as well as pitch.
const PATTERNS = {
  admitted: { tones: [[880, 0.12]], vibrate: [80] },
  note: { tones: [[660, 0.1], [880, 0.1]], vibrate: [80, 60, 80] },
  refused: { tones: [[220, 0.35], [180, 0.35]], vibrate: [300, 100, 300] },
  saved: { tones: [[520, 0.08]], vibrate: [40] },
  failed: { tones: [[220, 0.35], [180, 0.35]], vibrate: [300, 100, 300] },
};
let audio = null;

// Browsers start audio only after a tap: called from the first button the volunteer presses.
export function unlockSound() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

export function signal(kind) {
  const pattern = PATTERNS[kind] || PATTERNS.saved;
  if (navigator.vibrate) navigator.vibrate(pattern.vibrate);
  if (!audio) return;
  let at = audio.currentTime;
  for (const [frequency, seconds] of pattern.tones) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.15, at);
    gain.gain.exponentialRampToValueAtTime(0.001, at + seconds);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + seconds);
    at += seconds + 0.04;
  }
}

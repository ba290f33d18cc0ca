/**
 * Saves text as a file through the browser's download machinery: a Blob, an object URL
 * and a click on a temporary link. Private keys are saved this way so they never pass
 * through a URL anyone could find again; the object URL is revoked straight after.
 */
export type SaveFile = (fileName: string, text: string, type?: string) => void;

export const saveTextFile: SaveFile = (fileName, text, type = 'application/x-pem-file') => {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked on the next turn: the click has started the download by then.
  setTimeout(() => URL.revokeObjectURL(url), 0);
};

/** The file name a Content-Disposition header names, or the fallback. */
export function fileNameFrom(disposition: string | null, fallback: string): string {
  const match = disposition ? /filename="?([^";]+)"?/i.exec(disposition) : null;
  return match?.[1]?.trim() || fallback;
}

/**
 * Rules for the free-text comment at the end of an OpenSSH public key line. A control
 * character there (a newline above all) would break the one-key-per-line formats that the
 * key ends up in, such as authorized_keys and cloud-init user data, so both generation and
 * import refuse them.
 */

/**
 * True when the text holds a C0 control, DEL or a C1 control. Tabs count too, since they
 * would split the line into more fields than a reader expects.
 */
export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** Streams generated text into an element after its prompt (section 3's sample, section 4's GPT-2). */
export async function streamInto(
  out: HTMLElement,
  prompt: string,
  run: (onText: (s: string) => void) => Promise<string>,
  onPiece: (piece: string) => void = () => {},
): Promise<void> {
  out.innerHTML = '';
  const p = document.createElement('span');
  p.className = 'prompt';
  p.textContent = prompt;
  const gen = document.createTextNode('');
  out.append(p, gen);
  await run((piece) => {
    gen.data += piece;
    onPiece(piece);
  });
}

export function consentView(el) { el.append('Consent view'); }
export function proofView(el) { el.append('Proof'); }

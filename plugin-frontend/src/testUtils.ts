import { ResponseError } from '@backstage/errors';

/** The ResponseError the client throws for paved's error JSON (tests only). */
export async function pavedError(status: number, name: string, message: string): Promise<ResponseError> {
  const body = { error: { name, message }, response: { statusCode: status } };
  return ResponseError.fromResponse(
    new Response(JSON.stringify(body), { status, statusText: name, headers: { 'Content-Type': 'application/json' } }),
  );
}

import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { ApprovalRequest, PavedApi, pavedApiRef } from '../../api';
import { Router } from '../Router';

const ID = '6f1c2a0e-0000-4000-8000-000000000001';

function request(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: ID,
    kind: 'postgresql',
    name: 'orders',
    owner: 'group:default/payments',
    parameters: { size: 'large', region: 'eu-west-1' },
    requester: 'user:default/jane',
    approvers: 'group:default/platform',
    reason: 'approvals.rules[0] (kind postgresql, size in [large])',
    state: 'pending',
    createdAt: '2026-12-03T10:00:00Z',
    updatedAt: '2026-12-03T10:00:00Z',
    expiresAt: '2026-12-06T10:00:00Z',
    canDecide: true,
    events: [{ requestId: ID, state: 'pending', actor: 'user:default/jane', at: '2026-12-03T10:00:00Z' }],
    ...over,
  };
}

async function renderAt(path: string, api: Partial<PavedApi>) {
  await renderInTestApp(
    <TestApiProvider apis={[[pavedApiRef, api]]}>
      <Router />
    </TestApiProvider>,
    { routeEntries: [path] },
  );
}

describe('the approval page (/paved/approvals/:id)', () => {
  it('shows the request and approves it with the comment', async () => {
    const decideApproval = jest.fn(async () =>
      request({ state: 'done', decidedBy: 'user:default/carol', comment: 'ok', resourceId: 'res-1', canDecide: false }),
    );
    let done = false;
    const approval = jest.fn(async () =>
      done ? request({ state: 'done', decidedBy: 'user:default/carol', resourceId: 'res-1', canDecide: false }) : request(),
    );
    await renderAt(`/approvals/${ID}`, { approval, decideApproval });
    expect(await screen.findByTestId('paved-approval-state')).toHaveTextContent('pending');
    expect(screen.getByText('postgresql orders (region=eu-west-1, size=large)')).toBeInTheDocument();
    expect(screen.getByText('approvals.rules[0] (kind postgresql, size in [large])')).toBeInTheDocument();
    // Rejecting needs a comment.
    expect(screen.getByTestId('paved-approval-reject')).toBeDisabled();
    fireEvent.change(screen.getByTestId('paved-approval-comment'), { target: { value: 'ok' } });
    done = true;
    fireEvent.click(screen.getByTestId('paved-approval-approve'));
    await waitFor(() => expect(screen.getByTestId('paved-approval-state')).toHaveTextContent('done'));
    expect(decideApproval).toHaveBeenCalledWith(ID, { approve: true, comment: 'ok' });
    expect(screen.queryByTestId('paved-approval-approve')).not.toBeInTheDocument();
  });

  it("shows paved's refusal when the decision is not allowed", async () => {
    const refusal = Object.assign(new Error('Request failed with 403'), {
      statusCode: 403,
      body: { error: { name: 'NotAllowedError', message: 'nobody approves their own request: user:default/jane asked for postgresql "orders"' } },
    });
    const api: Partial<PavedApi> = {
      approval: async () => request(),
      decideApproval: jest.fn(async () => {
        throw refusal;
      }),
    };
    await renderAt(`/approvals/${ID}`, api);
    fireEvent.click(await screen.findByTestId('paved-approval-approve'));
    expect(await screen.findByText(/nobody approves their own request/)).toBeInTheDocument();
  });

  it('offers no decision to the requester', async () => {
    await renderAt(`/approvals/${ID}`, { approval: async () => request({ canDecide: false }) });
    expect(await screen.findByTestId('paved-approval-not-yours')).toHaveTextContent(
      'Waiting for a member of group:default/platform other than user:default/jane.',
    );
    expect(screen.queryByTestId('paved-approval-approve')).not.toBeInTheDocument();
  });

  it('lists the pending requests at /paved/approvals', async () => {
    const approvals = jest.fn(async () => ({ items: [request()] }));
    await renderAt('/approvals', { approvals });
    expect(await screen.findByText('postgresql orders')).toBeInTheDocument();
    expect(approvals).toHaveBeenCalledWith('pending');
  });
});

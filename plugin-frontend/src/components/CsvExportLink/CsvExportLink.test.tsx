import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { errorApiRef } from '@backstage/core-plugin-api';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DevexList, DevexQuery, pavedApiRef } from '../../api';
import { CsvExportLink, csvFilename } from './CsvExportLink';

function fakePaved(csv: () => Promise<string>) {
  return {
    csvUrl: jest.fn(async (list: DevexList, query: DevexQuery) => `http://paved.test/devex/v1/${list}?from=${query.from}&format=csv`),
    csv: jest.fn(csv),
  };
}

async function render(paved: ReturnType<typeof fakePaved>, post = jest.fn()) {
  await renderInTestApp(
    <TestApiProvider apis={[[pavedApiRef, paved], [errorApiRef, { post, error$: jest.fn() }]]}>
      <CsvExportLink list="deployments" query={{ from: '2026-11-01', to: '2026-11-28', owner: 'group:default/payments' }} />
    </TestApiProvider>,
  );
  return post;
}

describe('CsvExportLink', () => {
  let saved: string[];
  let createObjectURL: jest.Mock;
  let revokeObjectURL: jest.Mock;
  beforeEach(() => {
    // jsdom cannot follow a download; record which file would have been saved.
    saved = [];
    jest.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function click(this: HTMLAnchorElement) {
      saved.push(this.download);
    });
    createObjectURL = jest.fn((_: Blob) => 'blob:csv');
    revokeObjectURL = jest.fn();
    Object.assign(URL, { createObjectURL, revokeObjectURL });
  });
  afterEach(() => jest.restoreAllMocks());

  it("links paved's CSV URL and downloads the list with the user's credentials", async () => {
    const paved = fakePaved(async () => 'service,deployments\npayments-api,12\n');
    const post = await render(paved);

    const link = screen.getByRole('link', { name: 'Export deployments as CSV' });
    await waitFor(() => expect(link).toHaveAttribute('href', 'http://paved.test/devex/v1/deployments?from=2026-11-01&format=csv'));
    await userEvent.click(link);

    await waitFor(() => expect(saved).toEqual(['paved-deployments-2026-11-01-2026-11-28.csv']));
    expect(paved.csv).toHaveBeenCalledWith('deployments', {
      from: '2026-11-01',
      to: '2026-11-28',
      owner: 'group:default/payments',
    });
    expect(await createObjectURL.mock.calls[0][0].text()).toBe('service,deployments\npayments-api,12\n');
    expect(revokeObjectURL).toHaveBeenCalledWith('blob:csv');
    expect(post).not.toHaveBeenCalled();
  });

  it('posts a failed download to the error API and saves nothing', async () => {
    const paved = fakePaved(async () => {
      throw new Error('user:default/dave is not a member of platform-team');
    });
    const post = await render(paved);

    await userEvent.click(screen.getByRole('link', { name: 'Export deployments as CSV' }));

    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(post.mock.calls[0][0].message).toBe('user:default/dave is not a member of platform-team');
    expect(saved).toEqual([]);
    expect(createObjectURL).not.toHaveBeenCalled();
  });

  it('names the file after the list and its range, without a slash or empty dates', () => {
    expect(csvFilename('feedback/comments', { from: '2026-11-01', to: '2026-11-28' })).toBe('paved-feedback-comments-2026-11-01-2026-11-28.csv');
    expect(csvFilename('slos', {})).toBe('paved-slos.csv');
    expect(csvFilename('freshness', { owner: 'group:default/payments' })).toBe('paved-freshness.csv');
  });
});

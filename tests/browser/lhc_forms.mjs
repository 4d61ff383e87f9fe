// Drive LHC-Forms in the system's headless Chromium for tests/browser/test_lhc_forms.py.
//
//   node lhc_forms.mjs JOB.json   ->   a JSON report on stdout
//
// JOB: {"chromium": path, "origin": "http://127.0.0.1:PORT", "page": URL of page.html,
//       "forms": [{"name", "questionnaire": URL, "inspect": bool, "answers": [...] | null,
//                  "screenshot": path | null}]}
// For each form the page renders the Questionnaire with LForms.Util.addFormToPage; with
// `inspect` it reports every item as shown (its question and the answer texts a person can
// pick, read from the open answer list or the radio buttons); with `answers`
// it then fills the form through the page as a person would (clicks and typing) and exports
// the QuestionnaireResponse with LForms' own LForms.Util.getFormFHIRData. Only requests to
// `origin` are let through; every other request is aborted and reported.
import { readFileSync } from 'node:fs';
import puppeteer from 'puppeteer-core';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const LIST = '#lhc-tools-searchResults';

const WAIT = { timeout: 15000 };

// The shared answer list of LHC-Forms' autocompleter, open for the field `id`.
function listOpenFor(id) {
  const list = document.getElementById('lhc-tools-searchResults');
  return (
    document.activeElement !== null &&
    document.activeElement.id === id &&
    list !== null &&
    list.getAttribute('aria-hidden') === 'false' &&
    list.querySelector('li') !== null
  );
}

async function openList(page, id) {
  let lastError = null;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    await page.click(`[id="${id}"]`);
    try {
      await page.waitForFunction(listOpenFor, { timeout: 5000 }, id);
      lastError = null;
      break;
    } catch (error) {
      lastError = error;
      await closeList(page);
    }
  }
  if (lastError !== null) {
    throw new Error(`the answer list of ${id} did not open: ${lastError.message}`);
  }
  return page.$$eval(`${LIST} li`, (items) =>
    items.map((item) => {
      const number = item.querySelector('.listNum');
      const text = item.textContent.slice(number ? number.textContent.length : 0);
      return text.replace(/\u00a0/g, ' ').trim();
    }),
  );
}

// Escape closes the list without picking (and undoes a pick not yet left); leaving the field
// keeps what was picked. Either way the list must be closed before the next field is used.
async function closeList(page) {
  await page.keyboard.press('Escape');
  await leave(page);
}

async function leave(page) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.waitForSelector(`${LIST}[aria-hidden="true"]`, WAIT);
}

async function shown(page) {
  const items = await page.$$eval('lhc-item', (elements) =>
    elements.map((element) => {
      const type = [...element.classList].find((name) => name.startsWith('lhc-datatype-'));
      const question = element.querySelector(':scope > lhc-item-question .question, .question');
      const radios = [...element.querySelectorAll(':scope lhc-item-boolean label > span:not(.ant-radio)')];
      return {
        id: element.id.replace(/^item-/, ''),
        datatype: type ? type.slice('lhc-datatype-'.length) : null,
        question: question ? question.textContent.trim() : null,
        answers: radios.map((span) => span.textContent.trim()),
      };
    }),
  );
  for (const item of items) {
    if (item.datatype === 'CODING') {
      item.answers = await openList(page, item.id);
      await closeList(page);
    }
  }
  return items;
}

async function fill(page, answers) {
  for (const answer of answers) {
    try {
      await give(page, answer);
    } catch (error) {
      throw new Error(`answering ${answer.id}: ${error.message}`);
    }
  }
}

async function give(page, answer) {
  {
    if (answer.kind === 'boolean') {
      await page.click(`[id="${answer.id}|${answer.value}"]`);
    } else if (answer.kind === 'choice') {
      const texts = await openList(page, answer.id);
      const index = texts.indexOf(answer.text);
      if (index < 0) throw new Error(`no answer '${answer.text}' in the list of ${answer.id}`);
      for (let step = 0; step <= index; step += 1) await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      const picked = await page.$eval(`[id="${answer.id}"]`, (input) => input.value);
      await leave(page);
      if (picked !== answer.text) throw new Error(`picked '${picked}', not '${answer.text}'`);
    } else {
      await page.click(`[id="${answer.id}"]`);
      await page.keyboard.type(answer.text);
      await leave(page);
    }
  }
}

async function run() {
  const browser = await puppeteer.launch({
    executablePath: job.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  const report = { forms: [], blocked: [], errors: [] };
  try {
    for (const form of job.forms) {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      await page.setRequestInterception(true);
      page.on('request', (request) => {
        if (new URL(request.url()).origin === job.origin) {
          request.continue();
        } else {
          report.blocked.push(request.url());
          request.abort();
        }
      });
      page.on('pageerror', (error) => report.errors.push(`${form.name}: ${error.message}`));
      await page.goto(job.page, { waitUntil: 'load' });
      await page.waitForFunction(
        () => window.LForms && LForms.Util && LForms.Util.getFormFHIRData,
        { timeout: 30000 },
      );
      const questionnaire = await page.evaluate(async (url) => {
        const response = await fetch(url);
        const resource = await response.json();
        await LForms.Util.addFormToPage(resource, 'form', { fhirVersion: 'R4' });
        return resource;
      }, form.questionnaire);
      await page.waitForSelector('lhc-item');
      const result = { name: form.name, title: questionnaire.title };
      if (form.inspect) result.items = await shown(page);
      if (form.answers) {
        await fill(page, form.answers);
        result.response = await page.evaluate(() =>
          LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', document.getElementById('form')),
        );
      }
      if (form.screenshot) {
        await page.screenshot({ path: form.screenshot, fullPage: true });
      }
      report.forms.push(result);
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return report;
}

run().then(
  (report) => process.stdout.write(JSON.stringify(report)),
  (error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);

/**
 * Invoicing data for Chinese VAT (README "VAT and e-fapiao"): the seller's details (the city
 * operator, from settings), tenants' details as buyers, and each invoice's e-fapiao export as JSON,
 * an Excel workbook and a printable PDF. A tenant sees only its own invoices, as with
 * `GET /api/v1/invoices/:id`.
 */
import type { Principal } from '../auth/authenticate.js';
import { assertAdministers, assertOwns } from '../auth/policy.js';
import { eFapiao, type EFapiao, type Party } from '../billing/e-fapiao.js';
import { usccMessage, usccProblem } from '../billing/uscc.js';
import type { Clock } from '../clock.js';
import type { InvoicePdf } from '../documents/invoice-pdf.js';
import { eFapiaoWorkbook } from '../documents/e-fapiao-xlsx.js';
import { AppError } from '../errors.js';
import type { InvoicingRepository } from '../repositories/invoicing.repository.js';
import type { SettingsRepository } from '../repositories/settings.repository.js';
import type { BillingService } from './billing.service.js';

const SELLER_KEY = 'billing_seller';

/** The seller of every invoice: the city operator. */
export interface Seller {
  readonly name: string;
  /** Unified social credit code, valid (GB 32100-2015). */
  readonly uscc: string;
  readonly address: string;
  readonly phone: string;
  readonly bank: string;
  readonly bankAccount: string;
}

/** A tenant's invoicing details as the buyer (its name and USCC are the tenant's). */
export interface BuyerDetails {
  readonly address: string;
  readonly phone: string;
  readonly bank: string;
  readonly bankAccount: string;
}

export interface Buyer extends BuyerDetails {
  readonly tenantId: string;
  readonly name: string;
  readonly uscc: string | null;
}

export class InvoicingService {
  constructor(
    private readonly repo: InvoicingRepository,
    private readonly settings: SettingsRepository,
    private readonly billing: BillingService,
    private readonly pdf: InvoicePdf,
    private readonly clock: Clock,
  ) {}

  /** The seller's details; 404 until the operator has set them. */
  async seller(): Promise<Seller> {
    const seller = await this.storedSeller();
    if (!seller) throw new AppError('not_found', "The seller's invoicing details are not set yet (PUT /api/v1/billing/seller).");
    return seller;
  }

  /** Replaces the seller's details; 400 when the USCC is not a valid code. */
  async putSeller(input: Seller): Promise<Seller> {
    const problem = usccProblem(input.uscc);
    if (problem) throw new AppError('invalid', `The USCC ${usccMessage(problem)}.`, [{ path: 'uscc', message: usccMessage(problem) }]);
    const seller: Seller = {
      name: input.name,
      uscc: input.uscc,
      address: input.address,
      phone: input.phone,
      bank: input.bank,
      bankAccount: input.bankAccount,
    };
    await this.settings.put(SELLER_KEY, JSON.stringify(seller));
    return seller;
  }

  /** A tenant's invoicing details (operator, or the tenant itself; 404 for another tenant). */
  async buyer(principal: Principal, tenantId: string): Promise<Buyer> {
    assertOwns(principal, tenantId, 'No tenant has this id.');
    const buyer = await this.buyerOf(tenantId);
    if (!buyer) throw new AppError('not_found', 'No tenant has this id.');
    return buyer;
  }

  /** Replaces a tenant's invoicing details (operator, or the tenant's admins). */
  async putBuyer(principal: Principal, tenantId: string, details: BuyerDetails): Promise<Buyer> {
    assertOwns(principal, tenantId, 'No tenant has this id.');
    assertAdministers(principal, tenantId, "Only the tenant's admins change its invoicing details.");
    if (!(await this.repo.buyer(tenantId))) throw new AppError('not_found', 'No tenant has this id.');
    await this.repo.putBuyer(tenantId, details, this.clock.now());
    return this.buyer(principal, tenantId);
  }

  /**
   * The e-fapiao data of an invoice: 404 for an unknown invoice or another tenant's, 409 while the
   * seller's details are not set.
   */
  async eFapiao(principal: Principal, invoiceId: string): Promise<EFapiao> {
    const invoice = await this.billing.get(principal, invoiceId);
    const seller = await this.storedSeller();
    if (!seller) throw new AppError('conflict', "The seller's invoicing details are not set yet: the operator sets them with PUT /api/v1/billing/seller.");
    const b = (await this.buyerOf(invoice.tenantId))!;
    const buyer: Party = { name: b.name, uscc: b.uscc, address: b.address, phone: b.phone, bank: b.bank, bankAccount: b.bankAccount };
    return eFapiao(invoice, buyer, seller);
  }

  /** The e-fapiao data as an Excel workbook (.xlsx bytes), and the invoice number. */
  async workbook(principal: Principal, invoiceId: string): Promise<{ number: string; bytes: Buffer }> {
    const doc = await this.eFapiao(principal, invoiceId);
    return { number: doc.invoiceNumber, bytes: await eFapiaoWorkbook(doc) };
  }

  /** The printable invoice (PDF bytes), and the invoice number; 503 when the CJK font is missing. */
  async printable(principal: Principal, invoiceId: string): Promise<{ number: string; bytes: Buffer }> {
    const doc = await this.eFapiao(principal, invoiceId);
    return { number: doc.invoiceNumber, bytes: await this.pdf.render(doc) };
  }

  private async buyerOf(tenantId: string): Promise<Buyer | undefined> {
    const row = await this.repo.buyer(tenantId);
    if (!row) return undefined;
    return { tenantId, name: row.name, uscc: row.uscc, address: row.address, phone: row.phone, bank: row.bank, bankAccount: row.bank_account };
  }

  private async storedSeller(): Promise<Seller | undefined> {
    const text = await this.settings.get(SELLER_KEY);
    return text === undefined ? undefined : (JSON.parse(text) as Seller);
  }
}

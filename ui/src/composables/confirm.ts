/** Asks before a change that cannot be undone (a delete, a revoke, a month's close). */
import { ElMessageBox } from 'element-plus';
import { useI18n } from 'vue-i18n';

/** A function that shows `message` under `title` and answers whether the user confirmed with `confirmText` (default: the title). */
export function useConfirm() {
  const { t } = useI18n();
  return (message: string, title: string, confirmText = title): Promise<boolean> =>
    ElMessageBox.confirm(message, title, { type: 'warning', confirmButtonText: confirmText, cancelButtonText: t('app.cancel') }).then(
      () => true,
      () => false,
    );
}

"""The review pages' words in French and English: every label, heading and code shown to a credit
manager. Templates call `t("key")` for text and `label("kind", code)` for a code from the data
(a scenario, channel, actor, bucket...), so no raw code ever reaches a page. Formats (amounts,
dates) are `payrisk.core.i18n`'s; the reasons' phrases are `payrisk.policy.reasons`'.
"""

from __future__ import annotations

from dataclasses import dataclass

from payrisk.core.i18n import DASH, LANGUAGES, Formats, missing
from payrisk.policy.reasons import CHANNEL_LABELS

# key -> (English, French)
MESSAGES: dict[str, tuple[str, str]] = {
    "skip": ("Skip to content", "Aller au contenu"),
    "nav.portfolio": ("Portfolio", "Portefeuille"),
    "nav.customers": ("Customers", "Clients"),
    "nav.credit": ("Credit review", "Revue de crédit"),
    "nav.model": ("Model", "Modèle"),
    "nav.signout": ("Sign out", "Se déconnecter"),
    "nav.language": ("Language", "Langue"),
    "header.as_of": ("as of {day} · model v{version}", "au {day} · modèle v{version}"),
    "title.portfolio": ("Portfolio", "Portefeuille"),
    "title.customer": ("Customer {id}", "Client {id}"),
    "title.credit": ("Credit review", "Revue de crédit"),
    "title.model": ("Model", "Modèle"),
    "title.report": ("Receivables report {day}", "Rapport poste clients {day}"),
    "title.signin": ("Sign in", "Connexion"),
    "signin.heading": ("payrisk review pages", "Pages de revue payrisk"),
    "signin.key": ("API key", "Clé d'API"),
    "signin.button": ("Sign in", "Se connecter"),
    # `payrisk score`'s console
    "console.worklist": (
        "Collectors' worklist (top {n} by expected loss):",
        "Liste de travail des recouvreurs ({n} premières par perte attendue) :",
    ),
    "console.line": (
        "late {late}, default {default} -> {action} on {day}",
        "retard {late}, défaut {default} -> {action} le {day}",
    ),
    "console.scenarios": (
        "Customers per dunning scenario: {counts}",
        "Clients par scénario de relance : {counts}",
    ),
    # why the form is shown again (payrisk.serving.auth.LOGIN_PROBLEMS)
    "signin.invalid_key": ("That API key is not valid.", "Cette clé d'API n'est pas valide."),
    "signin.too_large": ("Request too large.", "Requête trop volumineuse."),
    "signin.too_slow": (
        "The form took too long to arrive; send it again.",
        "Le formulaire a mis trop de temps à arriver ; envoyez-le à nouveau.",
    ),
    "signin.throttled": (
        "Too many wrong API keys from this address; retry in {wait} s.",
        "Trop de clés d'API erronées depuis cette adresse ; réessayez dans {wait} s.",
    ),
    "signin.cross_site": (
        "This form was sent from another site; open the page here and send it again.",
        "Ce formulaire a été envoyé depuis un autre site ; ouvrez la page ici et "
        "envoyez-le à nouveau.",
    ),
    "notready.title": ("Not ready", "Pas prêt"),
    "notready.heading": ("Not ready yet", "Pas encore prêt"),
    "notfound.title": ("Not found", "Introuvable"),
    "notfound.customer": ("Customer not found", "Client introuvable"),
    "notfound.message": (
        "No customer {id} in the portfolio as of {day}. A prospect can get a credit review on "
        "the Credit review page.",
        "Aucun client {id} dans le portefeuille au {day}. Un prospect peut obtenir une revue de "
        "crédit sur la page Revue de crédit.",
    ),
    # portfolio
    "portfolio.summary": (
        "{open_customers} customers with {invoices} open invoices ({customers} in the ledger), "
        "as of {day}.",
        "{open_customers} clients avec {invoices} factures ouvertes ({customers} au grand livre), "
        "au {day}.",
    ),
    "kpi.figures": ("Key figures", "Chiffres clés"),
    "kpi.dso": ("DSO, last 90 days", "DSO, 90 derniers jours"),
    "kpi.dso_predicted": ("DSO, predicted", "DSO prévu"),
    "kpi.open": ("Open amount", "Encours"),
    "kpi.overdue": ("Overdue amount", "Montant échu"),
    "kpi.at_risk": ("Amount at risk of default", "Montant exposé au défaut"),
    "kpi.expected_loss": ("Expected loss", "Perte attendue"),
    "kpi.expected_loss_note": (
        "after {rate} recovered in the end",
        "après {rate} recouvrés à terme",
    ),
    "kpi.dispute": ("Dispute rate", "Taux de litige"),
    "kpi.paid_late": ("Paid late (settled)", "Payées en retard (réglées)"),
    "kpi.predicted_late": ("Predicted late invoices", "Factures en retard prévues"),
    "unit.days": ("{n} days", "{n} jours"),
    "aged.heading": ("Aged balance", "Balance âgée"),
    "aged.bucket": ("Age", "Ancienneté"),
    "aged.amount": ("Open amount", "Encours"),
    "aged.invoices": ("Invoices", "Factures"),
    "aged.share": ("Share", "Part"),
    "aged.chart": ("Aged balance by age (open amount)", "Balance âgée par ancienneté (encours)"),
    "aged.y": ("Open amount", "Encours"),
    "aged.x": ("Days past due", "Jours de retard"),
    "cash.heading": ("Weekly cash-in forecast", "Prévision d'encaissements par semaine"),
    "cash.chart": (
        "Expected weekly cash-in with its likely range",
        "Encaissements attendus par semaine et leur fourchette probable",
    ),
    "cash.desc": (
        "{weeks} weeks from {day}; expected total {total}",
        "{weeks} semaines à partir du {day} ; total attendu {total}",
    ),
    "cash.expected": ("Expected", "Attendu"),
    "cash.range": ("Likely range (80%)", "Fourchette probable (80 %)"),
    "cash.low": ("Low", "Bas"),
    "cash.high": ("High", "Haut"),
    "cash.week": ("Week of", "Semaine du"),
    "cash.x": ("Week starting", "Semaine commençant le"),
    "cash.y": ("Cash-in", "Encaissements"),
    "cash.table": ("Forecast as a table", "La prévision en tableau"),
    "cash.beyond": ("Expected after the horizon: {amount}", "Attendu après l'horizon : {amount}"),
    "cash.note": (
        "Each open invoice counts with its probability of being paid, spread over its predicted "
        "payment interval; the range assumes invoices pay independently of one another.",
        "Chaque facture ouverte compte avec sa probabilité d'être payée, répartie sur son "
        "intervalle de paiement prévu ; la fourchette suppose des paiements indépendants.",
    ),
    "worklist.heading": ("Open invoices", "Factures ouvertes"),
    "worklist.by_customer": ("Customers with open invoices", "Clients avec factures ouvertes"),
    "filter.view": ("View", "Vue"),
    "filter.view.invoices": ("By invoice", "Par facture"),
    "filter.view.customers": ("By customer", "Par client"),
    "filter.q": ("Customer or invoice id", "Client ou facture"),
    "filter.status": ("Due", "Échéance"),
    "filter.status.all": ("all", "toutes"),
    "filter.status.not_due": ("not yet due", "pas encore échues"),
    "not_due": ("not yet due", "pas encore échue"),
    "legend.not_due": (
        "A bar at the left of an invoice: not yet due.",
        "Barre à gauche d'une facture : pas encore échue.",
    ),
    "filter.status.past_due": ("past due", "échues"),
    "filter.scenario": ("Scenario", "Scénario"),
    "filter.all": ("all", "tous"),
    "filter.min_late": ("Min. late probability (%)", "Proba. de retard min. (%)"),
    "filter.sort": ("Sort by", "Trier par"),
    "filter.apply": ("Apply", "Appliquer"),
    "sort.expected_loss": ("expected loss", "perte attendue"),
    "sort.expected_days_late": ("expected delay", "retard attendu"),
    "sort.late_probability": ("late probability", "probabilité de retard"),
    "sort.open_amount": ("open amount", "encours"),
    "sort.due_date": ("due date", "échéance"),
    "worklist.match": (
        "{total} invoices match; page {page} of {pages}.",
        "{total} factures ; page {page} sur {pages}.",
    ),
    "worklist.match_customers": (
        "{total} customers match; page {page} of {pages}.",
        "{total} clients ; page {page} sur {pages}.",
    ),
    "worklist.top": (
        "The {n} open invoices with the highest expected loss (of {total}).",
        "Les {n} factures ouvertes à la plus forte perte attendue (sur {total}).",
    ),
    "worklist.caption": ("Open invoices ranked by {sort}", "Factures ouvertes triées par {sort}"),
    "worklist.none": ("No open invoice matches.", "Aucune facture ne correspond."),
    "worklist.none_customers": ("No customer matches.", "Aucun client ne correspond."),
    "pager": ("Pages", "Pages"),
    "pager.prev": ("← Previous", "← Précédente"),
    "pager.next": ("Next →", "Suivante →"),
    "pager.page": ("Page {page} of {pages}", "Page {page} sur {pages}"),
    "col.rank": ("Rank", "Rang"),
    "col.invoice": ("Invoice", "Facture"),
    "col.customer": ("Customer", "Client"),
    "col.due": ("Due", "Échéance"),
    "col.open": ("Open amount", "Encours"),
    "col.late": ("Late", "Retard"),
    "col.default": ("Default", "Défaut"),
    "col.expected": ("Expected payment", "Paiement prévu"),
    "col.loss": ("Expected loss", "Perte attendue"),
    "col.next": ("Next action", "Prochaine action"),
    "col.reason": ("Main reason", "Raison principale"),
    "col.invoices": ("Invoices", "Factures"),
    "col.past_due": ("Past due", "Échu"),
    "col.scenario": ("Scenario", "Scénario"),
    "col.next_contact": ("Next contact", "Prochain contact"),
    "col.late_prob": ("Late prob.", "Proba. retard"),
    "col.default_prob": ("Default prob.", "Proba. défaut"),
    "col.reasons": ("Reasons", "Raisons"),
    "col.planned": ("Planned dunning action", "Relance prévue"),
    "col.settled": ("Settled", "Réglée"),
    "col.days_late": ("Days late", "Jours de retard"),
    "col.amount": ("Amount", "Montant"),
    "abbr.late": ("probability of paying late", "probabilité de payer en retard"),
    "abbr.default": ("probability of default", "probabilité de défaut"),
    "delay.late": ("{days} late", "{days} de retard"),
    "delay.early": ("{days} early", "{days} d'avance"),
    "delay.late_short": ("{n} d late", "{n} j de retard"),
    "delay.early_short": ("{n} d early", "{n} j d'avance"),
    "delay.on_time": ("on time", "à l'échéance"),
    "range": ("{low} to {high}", "du {low} au {high}"),
    "action.on": ("{action} on {day}", "{action} le {day}"),
    "action.by": ("{channel} ({actor})", "{channel} ({actor})"),
    "action.step": ("step {n}", "étape {n}"),
    "disputed": ("disputed", "en litige"),
    "contact.covers": ("{n} invoices", "{n} factures"),
    "contact.covers_one": ("1 invoice", "1 facture"),
    # customer page
    "customer.plan": (
        "Scenario <strong>{scenario}</strong>{key}. Next contact: {action} on {day} ({actor}), "
        "about {n} invoice(s).",
        "Scénario <strong>{scenario}</strong>{key}. Prochain contact : {action} le {day} "
        "({actor}), pour {n} facture(s).",
    ),
    "customer.key": (", key account", ", compte clé"),
    "customer.no_open": ("No open invoices.", "Aucune facture ouverte."),
    "customer.past_due_total": ("Total past due", "Total échu"),
    "customer.settled": ("Settled invoices", "Factures réglées"),
    "customer.open_invoices": ("Open invoices", "Factures ouvertes"),
    "customer.mean_late": ("Mean days late", "Retard moyen (jours)"),
    "customer.limit": ("Credit limit", "Plafond de crédit"),
    "customer.over_limit": ("over the limit by {amount}", "au-delà du plafond de {amount}"),
    "case.heading": ("The dunning case", "Le dossier de relance"),
    "case.caption": (
        "Per open invoice, as of the snapshot: what was sent, what the customer agreed or asked "
        "for, and the next step (with why the escalation ladder shaped it).",
        "Par facture ouverte, à la date de l'instantané : ce qui a été envoyé, ce que le client a "
        "promis ou obtenu, et la prochaine étape (avec ce que l'échelle de relance y a changé).",
    ),
    "case.sent": ("Hardest sent", "Relance la plus ferme"),
    "case.notice": ("formal notice of {day}", "mise en demeure du {day}"),
    "case.promise": ("Promise", "Promesse"),
    "case.promise_on": ("to pay by {day}", "de payer au {day}"),
    "case.plan": ("Payment plan", "Échéancier"),
    "case.instalment": ("{amount} due {day}", "{amount} au {day}"),
    "case.hold": ("Hold", "Suspension"),
    "case.until": ("until {day}", "jusqu'au {day}"),
    "case.next": ("Next step", "Prochaine étape"),
    "case.none": ("nothing yet", "rien encore"),
    "case.log": ("Reminders sent", "Relances envoyées"),
    "case.log_caption": (
        "Every reminder sent about an open invoice, newest first, as the ledger knows them at "
        "the snapshot (what the dunning system reported since is in its requests).",
        "Chaque relance envoyée pour une facture ouverte, la plus récente d'abord, telle que le "
        "grand livre la connaît à la date de l'instantané (ce que l'outil de relance a signalé "
        "depuis figure dans ses requêtes).",
    ),
    "case.log_day": ("Sent on", "Envoyée le"),
    "case.log_channel": ("Channel", "Canal"),
    "case.log_step": ("Step", "Étape"),
    "case.log_none": (
        "No reminder sent about its open invoices.",
        "Aucune relance envoyée pour ses factures ouvertes.",
    ),
    "customer.paid_late": ("Paid late", "Payées en retard"),
    "history.heading": ("Payment history", "Historique de paiement"),
    "history.chart": (
        "Days late per settled invoice, customer {id}",
        "Jours de retard par facture réglée, client {id}",
    ),
    "history.text": (
        "{n} settled invoices from {first} to {last}: {late} paid late ({share}), on average "
        "{mean} after the due date, at worst {worst}.",
        "{n} factures réglées du {first} au {last} : {late} payées en retard ({share}), en "
        "moyenne {mean} après l'échéance, au pire {worst}.",
    ),
    "history.x": ("Settlement date", "Date de règlement"),
    "history.y": ("Days after the due date", "Jours après l'échéance"),
    "history.late": ("Paid late", "Payée en retard"),
    "history.on_time": ("Paid on time or early", "Payée à temps ou en avance"),
    "history.table": ("Last {n} settled invoices as a table", "Les {n} dernières factures réglées"),
    "history.none": ("No settled invoices yet.", "Aucune facture réglée pour l'instant."),
    "history.written_off": ("written off", "passée en perte"),
    "aged.past_due": ("Past due", "Échu"),
    "raises": ("Raises the risk", "Augmente le risque"),
    "lowers": ("Lowers the risk", "Diminue le risque"),
    # credit review
    "credit.heading": ("Credit review", "Revue de crédit"),
    "credit.intro": (
        "Before granting credit or a higher limit: the predicted behaviour of a customer, or of a "
        "prospect without history, for an order of this amount and terms.",
        "Avant d'accorder un crédit ou un plafond plus élevé : le comportement prévu d'un client, "
        "ou d'un prospect sans historique, pour une commande de ce montant et ce délai.",
    ),
    "credit.customer": ("Customer or prospect id", "Client ou prospect"),
    "credit.amount": ("Requested amount", "Montant demandé"),
    "credit.terms": ("Terms (days)", "Délai (jours)"),
    "credit.button": ("Review", "Analyser"),
    "credit.recommendation": ("Recommendation:", "Recommandation :"),
    "credit.prospect": (
        "Prospect: no payment history, reviewed as a new customer.",
        "Prospect : aucun historique de paiement, analysé comme un nouveau client.",
    ),
    "credit.figures": (
        "Late probability {late}, default probability {default}, expected payment {delay}; "
        "exposure {exposure} against a credit limit of {limit}.",
        "Probabilité de retard {late}, probabilité de défaut {default}, paiement prévu {delay} ; "
        "encours {exposure} pour un plafond de crédit de {limit}.",
    ),
    "credit.figures_no_limit": (
        "Late probability {late}, default probability {default}, expected payment {delay}; "
        "exposure {exposure}, no credit limit set.",
        "Probabilité de retard {late}, probabilité de défaut {default}, paiement prévu {delay} ; "
        "encours {exposure}, aucun plafond de crédit fixé.",
    ),
    "credit.max.credit_limit": (
        "Most that could be approved within policy, for these terms: {amount} (the credit "
        "limit's headroom).",
        "Montant maximal accordable dans la politique, pour ce délai : {amount} (la marge sous "
        "le plafond de crédit).",
    ),
    "credit.max.default_probability": (
        "Most that could be approved within policy, for these terms: {amount} (above it, the "
        "default probability passes the referral threshold).",
        "Montant maximal accordable dans la politique, pour ce délai : {amount} (au-delà, la "
        "probabilité de défaut dépasse le seuil de transmission).",
    ),
    "credit.max.search_limit": (
        "At least {amount} could be approved within policy, for these terms (no credit limit, "
        "and none of the rules was reached up to ten times the request).",
        "Au moins {amount} accordables dans la politique, pour ce délai (pas de plafond, et "
        "aucune règle atteinte jusqu'à dix fois la demande).",
    ),
    "credit.max.new_customer": (
        "Most that could be approved within policy, for these terms: {amount} (above it, a new "
        "customer goes to a credit manager).",
        "Montant maximal accordable dans la politique, pour ce délai : {amount} (au-delà, un "
        "nouveau client est transmis au credit manager).",
    ),
    "credit.conditions": ("Conditions", "Conditions"),
    "credit.grounds": ("Grounds", "Motifs"),
    "credit.drivers": ("What drives the risk", "Ce qui fait le risque"),
    "credit.warnings": ("Warning:", "Attention :"),
    # the credit decisions page (overrides report)
    "nav.desk": ("Decisions", "Décisions"),
    "title.desk": ("Credit decisions", "Décisions de crédit"),
    "overrides.summary": (
        "{n} decisions on record, {overrides} departing from the recommendation ({share}).",
        "{n} décisions enregistrées, dont {overrides} s'écartant de la recommandation ({share}).",
    ),
    "overrides.matrix": (
        "Recommended (rows) and decided (columns)",
        "Recommandé (lignes) et décidé (colonnes)",
    ),
    "overrides.then": (
        "How the customers paid since (invoices settled after the day of the decision)",
        "Comment les clients ont payé depuis (factures réglées après le jour de la décision)",
    ),
    "overrides.group": ("Decisions", "Décisions"),
    "overrides.recommended": ("Recommended", "Recommandé"),
    "overrides.followed": ("following the recommendation", "suivant la recommandation"),
    "overrides.departed": ("departing from it", "s'en écartant"),
    "overrides.settled": ("Invoices settled since", "Factures réglées depuis"),
    "overrides.late": ("Paid late", "Payées en retard"),
    "overrides.mean_late": ("Mean days late", "Retard moyen (jours)"),
    "overrides.written_off": ("Written off", "Passées en perte"),
    "overrides.latest": ("Latest decisions", "Dernières décisions"),
    "overrides.customer": ("Customer", "Client"),
    # the DAF's month by month
    "daf.heading": ("Month by month", "Mois par mois"),
    "daf.note": (
        "CEI: (opening receivables + credit sales - closing receivables) / (opening receivables + "
        "credit sales - closing current receivables); write-offs count as collected. DSO at each "
        "month end: standard (90 days of sales) and countback (the latest months' sales counted "
        "back).",
        "CEI : (encours d'ouverture + ventes à crédit - encours de clôture) / (encours "
        "d'ouverture + ventes à crédit - encours non échu de clôture) ; les passages en perte "
        "comptent comme encaissés. DSO à chaque fin de mois : standard (90 jours de ventes) et "
        "par épuisement du chiffre d'affaires (les ventes des derniers mois remontées).",
    ),
    "daf.month": ("Month", "Mois"),
    "daf.cei": ("CEI", "CEI"),
    "daf.dso": ("DSO (90 days)", "DSO (90 jours)"),
    "daf.countback": ("DSO (countback)", "DSO (épuisement)"),
    "daf.sales": ("Credit sales", "Ventes à crédit"),
    "daf.closing": ("Closing receivables", "Encours de clôture"),
    "daf.export": ("Export (CSV)", "Exporter (CSV)"),
    # provisions for doubtful receivables
    "prov.heading": ("Provisions for doubtful receivables", "Provisions pour créances douteuses"),
    "prov.intro": (
        "Open invoices {days} days or more past due, provisioned on their amount net of VAT "
        "({vat}) at the larger of the matrix's rate for their age and the model's expected loss "
        "rate (default probability x (1 - recovery rate {recovery})).",
        "Factures ouvertes échues depuis {days} jours ou plus, provisionnées sur leur montant "
        "hors TVA ({vat}) au plus élevé du taux de la matrice pour leur ancienneté et du taux de "
        "perte attendue du modèle (probabilité de défaut x (1 - taux de recouvrement {recovery})).",
    ),
    "prov.total": (
        "Total provision: {amount} on {n} doubtful invoices",
        "Provision totale : {amount} sur {n} factures douteuses",
    ),
    "prov.bucket": ("{days} days past due", "échues de {days} jours"),
    "prov.rate": ("Matrix rate", "Taux de la matrice"),
    "prov.invoices": ("Invoices", "Factures"),
    "prov.net": ("Net of VAT", "Hors TVA"),
    "prov.amount": ("Provision", "Provision"),
    "prov.customers": ("Largest provisions by customer", "Plus fortes provisions par client"),
    "prov.customer": ("Provision (doubtful receivables)", "Provision (créances douteuses)"),
    "prov.export": ("Export every invoice (CSV)", "Exporter chaque facture (CSV)"),
    # the credit desk's record (decisions, limits, notes)
    "desk.heading": ("Credit decisions and notes", "Décisions de crédit et notes"),
    "desk.decide": ("Record the decision", "Enregistrer la décision"),
    "desk.decision": ("Decision", "Décision"),
    "desk.granted_amount": ("Amount granted", "Montant accordé"),
    "desk.granted_terms": ("Terms granted (days)", "Délai accordé (jours)"),
    "desk.limit": ("New credit limit (optional)", "Nouveau plafond de crédit (facultatif)"),
    "desk.conditions": ("Conditions, one per line", "Conditions, une par ligne"),
    "desk.reason": (
        "Reason (required when departing from the recommendation)",
        "Motif (obligatoire si la décision s'écarte de la recommandation)",
    ),
    "desk.button": ("Record", "Enregistrer"),
    "desk.note": ("Note", "Note"),
    "desk.note_button": ("Add the note", "Ajouter la note"),
    "desk.none": ("Nothing on record yet.", "Rien d'enregistré pour l'instant."),
    "desk.unavailable": (
        "The credit desk's record is not available.",
        "L'historique des décisions n'est pas disponible.",
    ),
    "desk.sign_in": (
        "Sign in to record a decision or a note.",
        "Connectez-vous pour enregistrer une décision ou une note.",
    ),
    "desk.recorded": ("Recorded.", "Enregistré."),
    "desk.csrf": (
        "This form has expired or did not come from this page; open the page again and resend.",
        "Ce formulaire a expiré ou ne vient pas de cette page ; rouvrez la page et renvoyez-le.",
    ),
    "desk.current_limit": (
        "Credit limit on record: {limit}",
        "Plafond de crédit enregistré : {limit}",
    ),
    "desk.export": ("Export (CSV)", "Exporter (CSV)"),
    "desk.col.when": ("When", "Quand"),
    "desk.col.who": ("Who", "Qui"),
    "desk.col.what": ("What", "Quoi"),
    "desk.kind.decision": ("Decision", "Décision"),
    "desk.kind.limit": ("Credit limit", "Plafond de crédit"),
    "desk.kind.note": ("Note", "Note"),
    "desk.decided": (
        "{decision} (recommended: {recommendation}); {amount} requested at {terms} days",
        "{decision} (recommandé : {recommendation}) ; {amount} demandés à {terms} jours",
    ),
    "desk.granted": ("granted {amount} at {terms} days", "accordé {amount} à {terms} jours"),
    "desk.override": ("override: {reason}", "dérogation : {reason}"),
    "desk.model": (
        "model v{version}, snapshot of {day}, default {default}",
        "modèle v{version}, instantané du {day}, défaut {default}",
    ),
    "desk.limit_change": ("{old} → {new}", "{old} → {new}"),
    # model page
    "model.champion": (
        "Champion <strong>v{version}</strong> ({source}), trained on data from {start} to {end}; "
        "model card as of {as_of}.",
        "Champion <strong>v{version}</strong> ({source}), entraîné sur les données du {start} au "
        "{end} ; fiche au {as_of}.",
    ),
    "model.metrics": ("Holdout metrics against the baselines", "Mesures sur la période de test"),
    "model.metrics_note": (
        "ROC AUC and PR AUC: higher is better; Brier, log loss and calibration error: lower is "
        "better.",
        "ROC AUC et PR AUC : plus c'est haut, mieux c'est ; Brier, log loss et erreur de "
        "calibration : plus c'est bas, mieux c'est.",
    ),
    "model.col": ("Model", "Modèle"),
    "model.payment": ("Payment date (days)", "Date de paiement (jours)"),
    "model.mae": ("Mean abs. error", "Erreur abs. moyenne"),
    "model.median": ("Median abs. error", "Erreur abs. médiane"),
    "model.coverage": ("Interval coverage", "Couverture de l'intervalle"),
    "model.calibration": ("Calibration", "Calibration"),
    "model.calibration_chart": ("Calibration curve: {target}", "Courbe de calibration : {target}"),
    "model.calibration_desc": (
        "Observed rate against predicted probability per bin; the dashed diagonal is perfect "
        "calibration.",
        "Taux observé selon la probabilité prévue, par classe ; la diagonale pointillée est une "
        "calibration parfaite.",
    ),
    "model.calibration_x": ("Predicted probability", "Probabilité prévue"),
    "model.calibration_y": ("Observed rate", "Taux observé"),
    "model.calibration_model": ("Model", "Modèle"),
    "model.calibration_perfect": ("Perfect calibration", "Calibration parfaite"),
    "model.bins": ("Reliability bins as a table", "Classes de fiabilité en tableau"),
    "model.predicted": ("Predicted", "Prévu"),
    "model.observed": ("Observed", "Observé"),
    "model.count": ("Invoices", "Factures"),
    "model.features": ("Top features", "Variables les plus influentes"),
    "model.feature": ("Feature", "Variable"),
    "model.weight": ("Mean |SHAP|", "|SHAP| moyen"),
    "model.features_caption": ("{target}: mean |SHAP|", "{target} : |SHAP| moyen"),
    "model.challenger": ("Challenger", "Challenger"),
    # the learned dunning policy
    "works.heading": ("What works for this customer", "Ce qui marche pour ce client"),
    "works.decision": (
        "For invoice {invoice}, the next decision ({policy}): {reason}",
        "Pour la facture {invoice}, la prochaine décision ({policy}) : {reason}",
    ),
    "works.caption": (
        "Estimated chance of full payment within {days} days, by channel",
        "Chance estimée de paiement complet sous {days} jours, par canal",
    ),
    "works.channel": ("Channel", "Canal"),
    "works.chance": ("Chance", "Chance"),
    "works.range": ("90% range", "Fourchette à 90 %"),
    "works.interval": ("{low} to {high}", "de {low} à {high}"),
    "works.value": ("Expected value", "Valeur attendue"),
    "works.allowed_now": ("Allowed now", "Permis maintenant"),
    "works.allowed": ("yes", "oui"),
    "works.not_allowed": ("no (escalation rules)", "non (règles d'escalade)"),
    "works.history": (
        "The answers it rests on: this customer's reminders whose outcome is known",
        "Les réponses sur lesquelles elle repose : relances de ce client à l'issue connue",
    ),
    "works.reminders": ("Reminders", "Relances"),
    "works.paid": ("Paid within the window", "Payées dans le délai"),
    "works.no_history": (
        "No reminder of this customer has a known answer yet: the estimates rest on customers "
        "like it.",
        "Aucune relance de ce client n'a encore d'issue connue : les estimations reposent sur "
        "des clients semblables.",
    ),
    "works.none": (
        "No channel estimate for this customer (the rules table decides).",
        "Pas d'estimation par canal pour ce client (la table de règles décide).",
    ),
    "policy.heading": (
        "Dunning policy on the holdout's decisions",
        "Politique de relance sur les décisions de test",
    ),
    "policy.note": (
        "Off-policy estimates on {units} decisions of {customers} customers the effect models did "
        "not learn from: the share of decisions followed by full payment within {days} days had "
        "each policy decided, with 95% intervals (bootstrap over customers). Propensities clipped "
        "at {clip}; 'no overlap' is the share of decisions where a policy does what the history "
        "almost never did, where no estimate can be trusted.",
        "Estimations hors politique sur {units} décisions de {customers} clients que les modèles "
        "d'effet n'ont pas vus : la part des décisions suivies d'un paiement complet sous {days} "
        "jours si chaque politique avait décidé, avec intervalles à 95 % (bootstrap par client). "
        "Propensions bornées à {clip} ; « sans recouvrement » est la part des décisions où une "
        "politique fait ce que l'historique n'a presque jamais fait, où aucune estimation n'est "
        "fiable.",
    ),
    "policy.caption": ("Policy evaluation", "Évaluation des politiques"),
    "policy.col": ("Policy", "Politique"),
    "policy.dr": ("Doubly robust", "Doublement robuste"),
    "policy.interval": ("95% interval", "Intervalle à 95 %"),
    "policy.ips": ("Inverse propensity", "Propension inverse"),
    "policy.cost": ("Cost per decision", "Coût par décision"),
    "policy.contacts": ("Contacts", "Contacts"),
    "policy.no_overlap": ("No overlap", "Sans recouvrement"),
    "policy.none": (
        "This model has no channel-effect models: the rules table decides.",
        "Ce modèle n'a pas de modèles d'effet par canal : la table de règles décide.",
    ),
    "model.challenger_text": (
        "Version <strong>v{version}</strong> (registered {created}) did not become champion.",
        "La version <strong>v{version}</strong> (enregistrée le {created}) n'est pas devenue "
        "champion.",
    ),
    "model.challenger_metric": ("Holdout metric", "Mesure"),
    "model.challenger_col": ("Challenger", "Challenger"),
    "model.champion_col": ("Champion", "Champion"),
    "model.no_challenger": ("No challenger in the registry.", "Aucun challenger au registre."),
    "model.models": ("Models", "Modèles"),
    "model.models_note": (
        "For each target, LightGBM, a logistic regression, their blend and a calibrated prior were "
        "compared on the latest slice of the training window (log loss, out of fold; lower is "
        "better), never on the holdout; the best answers. A target with too few examples of an "
        "outcome cannot be learned: the calibrated prior answers instead.",
        "Pour chaque cible, LightGBM, une régression logistique, leur mélange et un a priori "
        "calibré ont été comparés sur la dernière tranche de la période d'apprentissage (log loss "
        "hors échantillon ; plus bas est meilleur), jamais sur la période de test ; le meilleur "
        "répond. Une cible qui a trop peu d'exemples d'une issue ne peut pas être apprise : "
        "l'a priori calibré répond à sa place.",
    ),
    "model.models_caption": ("Model of each target", "Modèle de chaque cible"),
    "model.col_target": ("Target", "Cible"),
    "model.col_learnable": ("Learnable", "Apprenable"),
    "model.col_candidates": (
        "Candidates (log loss on the latest training slice)",
        "Candidats (log loss sur la dernière tranche d'apprentissage)",
    ),
    "model.yes": ("yes", "oui"),
    "model.default_target": (
        "Default (not paid within {days} days of the due date)",
        "Défaut (non payée {days} jours après l'échéance)",
    ),
    "model.no_because": ("no: {why}", "non : {why}"),
    "model.flag_prior": (
        "{target}: not learnable from this history ({why}); its probabilities are the "
        "calibrated prior.",
        "{target} : impossible à apprendre de cet historique ({why}) ; ses probabilités sont "
        "l'a priori calibré.",
    ),
    "model.flag_payment": (
        "{target}: not learnable from this history ({why}); its dates come from the life table.",
        "{target} : impossible à apprendre de cet historique ({why}) ; ses dates viennent de la "
        "table de survie.",
    ),
    "model.flag_worse": (
        '{target}: worse than the baseline "{baseline}" on the holdout {metric} ({model} '
        "against {value}, noise {noise}).",
        "{target} : moins bon que la référence « {baseline} » sur la période de test, {metric} "
        "({model} contre {value}, bruit {noise}).",
    ),
    "model.declared": (
        "Your own features (configs/train.yaml):",
        "Vos propres variables (configs/train.yaml) :",
    ),
    "model.known_from": ("known from {column}", "connue à partir de {column}"),
    "model.groups": (
        "By snapshot age and customer segment",
        "Selon l'âge de la facture et le type de client",
    ),
    "model.groups_note": (
        "How good the scores are when the decision is taken: at issue (pre-due reminders), on the "
        "due date, and later; and for customers without a settled invoice. ROC AUC of the model, "
        "the logistic regression and the customer's historical rate; payment-date error in days "
        "of the model and of the due date + the customer's average delay. Past the due date, "
        "lateness is already known, so only default is scored.",
        "La qualité des scores au moment de décider : à l'émission (relances avant échéance), à "
        "l'échéance, puis après ; et pour les clients sans facture réglée. ROC AUC du modèle, de "
        "la régression logistique et du taux historique du client ; erreur sur la date de "
        "paiement, en jours, du modèle et de l'échéance + retard moyen du client. Après "
        "l'échéance, le retard est déjà connu : seul le défaut est évalué.",
    ),
    "model.groups_caption": (
        "Holdout by snapshot age and segment",
        "Période de test par âge et type de client",
    ),
    "model.col_snapshots": ("Snapshots", "Instantanés"),
    "model.col_late_model": ("Late: model", "Retard : modèle"),
    "model.col_default_model": ("Default: model", "Défaut : modèle"),
    "model.col_logistic": ("logistic", "logistique"),
    "model.col_historical": ("historical", "historique"),
    "model.col_mae_model": ("Payment MAE: model", "Erreur date : modèle"),
    "model.col_mae_baseline": ("baseline", "référence"),
}


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "scenario": {
        "light": ("Light", "Léger"),
        "standard": ("Standard", "Standard"),
        "firm": ("Firm", "Ferme"),
        "key_account": ("Key account", "Compte clé"),
        "protective": ("Protective", "Protecteur"),
    },
    "action": {
        "remind": ("Reminder", "Relance"),
        "escalate": ("Escalation", "Escalade"),
        "write_off_review": ("Write-off review", "Examen de passage en perte"),
        "dispute_resolution": ("Dispute resolution", "Traitement du litige"),
        "credit_manager_review": ("Credit manager review", "Revue par le credit manager"),
        "wait": ("Wait", "Attendre"),
        "direct_debit": ("Direct debit (no reminder)", "Prélèvement (pas de relance)"),
    },
    "action_short": {
        "remind": ("Reminder", "Relance"),
        "escalate": ("Escalation", "Escalade"),
        "write_off_review": ("Write-off review", "Examen de perte"),
        "dispute_resolution": ("Dispute", "Litige"),
        "credit_manager_review": ("Credit review", "Revue crédit"),
        "wait": ("Wait", "Attendre"),
        "direct_debit": ("Direct debit", "Prélèvement"),
    },
    "policy": {
        "learned": ("learned policy", "politique apprise"),
        "rules": ("rules table", "table de règles"),
        "logged": ("logged (history)", "historique"),
        "none": ("no contact", "aucun contact"),
        "no_contact": ("no contact", "aucun contact"),
        "random": ("random", "aléatoire"),
        "oracle": ("oracle", "oracle"),
    },
    # the reasons' channel names (one table), as a cell starts: "Phone call", "Appel"
    "channel": {
        code: (_capitalised(CHANNEL_LABELS["en"][code]), _capitalised(CHANNEL_LABELS["fr"][code]))
        for code in CHANNEL_LABELS["en"]
    },
    "actor": {
        "automatic": ("automatic", "automatique"),
        "collector": ("collector", "chargé de recouvrement"),
        "sales_rep": ("sales rep", "commercial"),
        "credit_manager": ("credit manager", "credit manager"),
    },
    # why the escalation ladder changed a step (policy.ladder.LADDER_REASONS)
    "ladder": {
        "notice_before_legal": (
            "a formal notice first: no agency, court or write-off before it",
            "d'abord une mise en demeure : ni recouvrement, ni tribunal, ni perte avant elle",
        ),
        "reminder_before_notice": (
            "a reminder first: a formal notice is never the first contact",
            "d'abord une relance : la mise en demeure n'est jamais le premier contact",
        ),
        "plan_or_promise_on_track": (
            "reminders only while the plan or promise holds",
            "relances seulement tant que l'échéancier ou la promesse tient",
        ),
        "notice_deadline": (
            "waits for the formal notice's deadline",
            "attend l'échéance de la mise en demeure",
        ),
        "legal_after_notice": (
            "the formal notice was sent: the next step is legal",
            "la mise en demeure est envoyée : l'étape suivante est contentieuse",
        ),
        "reviewed": (
            "reviewed recently: the next review after the review interval",
            "revu récemment : la prochaine revue après l'intervalle prévu",
        ),
    },
    "bucket": {
        "not_due": ("Not yet due", "Non échu"),
        "1-30": ("1–30 days", "1 à 30 j"),
        "31-60": ("31–60 days", "31 à 60 j"),
        "61-90": ("61–90 days", "61 à 90 j"),
        "over_90": ("Over 90 days", "Plus de 90 j"),
    },
    "recommendation": {
        "approve": ("Approve", "Accorder"),
        "approve_with_conditions": ("Approve with conditions", "Accorder sous conditions"),
        "refer_to_credit_manager": ("Refer to a credit manager", "Soumettre au credit manager"),
        "decline": ("Decline", "Refuser"),
    },
    "model": {
        "model": ("Registered model", "Modèle retenu"),
        "lightgbm": ("LightGBM model", "Modèle LightGBM"),
        "historical_rate": ("Customer's historical rate (baseline)", "Taux historique du client"),
        "logistic": ("Logistic regression (baseline)", "Régression logistique (référence)"),
        "average_delay": ("Customer's average delay (baseline)", "Retard moyen du client"),
    },
    "model_short": {
        "lightgbm": ("LightGBM", "LightGBM"),
        "logistic": ("logistic", "logistique"),
        "blend": ("blend", "mélange"),
        "prior": ("prior", "a priori"),
    },
    "model_kind": {
        "lightgbm": ("LightGBM", "LightGBM"),
        "logistic": ("logistic regression", "régression logistique"),
        "blend": ("blend of LightGBM and logistic regression", "mélange LightGBM et logistique"),
        "prior": (
            "calibrated prior (the customer's own rate, shrunk towards the population's)",
            "a priori calibré (le taux du client, rapproché de celui de l'ensemble)",
        ),
        "hazard": (
            "discrete-time hazard (LightGBM), coherent with the probabilities",
            "risque en temps discret (LightGBM), cohérent avec les probabilités",
        ),
        "life table": (
            "life table (the share paid in each band of days past due)",
            "table de survie (part payée dans chaque tranche de retard)",
        ),
    },
    "model_target": {
        "late": ("Paid late", "Payée en retard"),
        "default_given_late": (
            "Default, given late (P(default) = P(late) x this)",
            "Défaut sachant le retard (P(défaut) = P(retard) x ceci)",
        ),
        "payment": ("Payment date", "Date de paiement"),
    },
    "group": {
        "all": ("All snapshots", "Tous les instantanés"),
        "at_issue": ("At issue", "À l'émission"),
        "at_due": ("On the due date", "À l'échéance"),
        "past_due_1_15": ("1-15 days past due", "1 à 15 j de retard"),
        "past_due_16_30": ("16-30 days past due", "16 à 30 j de retard"),
        "past_due_31_60": ("31-60 days past due", "31 à 60 j de retard"),
        "past_due_over_60": ("Over 60 days past due", "Plus de 60 j de retard"),
        "new_customer": ("New customers", "Nouveaux clients"),
        "known_customer": ("Known customers", "Clients connus"),
    },
    "target": {
        "late": ("Paid late", "Payée en retard"),
        "default": ("Default", "Défaut"),
    },
    "metric": {
        "roc_auc": ("ROC AUC", "ROC AUC"),
        "pr_auc": ("PR AUC", "PR AUC"),
        "brier": ("Brier", "Brier"),
        "log_loss": ("Log loss", "Log loss"),
        "calibration_error": ("Calibration error", "Erreur de calibration"),
    },
    "source": {
        "registry": ("registry", "registre"),
        "local copy": ("local copy", "copie locale"),
    },
    "feature": {
        "log_amount": ("Invoice amount", "Montant de la facture"),
        "terms_days": ("Payment terms", "Délai de paiement"),
        "days_since_issue": ("Days since issue", "Jours depuis l'émission"),
        "days_past_due": ("Days past due", "Jours de retard"),
        "issue_month": ("Month of issue", "Mois d'émission"),
        "issue_weekday": ("Weekday of issue", "Jour d'émission"),
        "due_day_of_month": ("Day of month due", "Jour d'échéance dans le mois"),
        "due_at_month_end": ("Due at month end", "Échéance en fin de mois"),
        "amount_vs_customer_mean": ("Amount vs usual invoice", "Montant / facture habituelle"),
        "amount_vs_open_balance": ("Share of the balance", "Part de l'encours"),
        "reminders_sent": ("Reminders sent for it", "Relances de cette facture"),
        "last_reminder_step": ("Dunning step reached", "Étape de relance atteinte"),
        "days_since_last_reminder": ("Days since last reminder", "Jours depuis la relance"),
        "last_reminder_channel": ("Last reminder channel", "Canal de la dernière relance"),
        "is_new_customer": ("New customer", "Nouveau client"),
        "settled_invoices": ("Invoices settled", "Factures réglées"),
        "late_share": ("Share paid late", "Part payée en retard"),
        "late_share_amount_weighted": ("Share of amount paid late", "Part du montant en retard"),
        "late_share_recent": ("Share paid late, recent", "Part en retard, récente"),
        "late_share_long_run_weighted": ("Share paid late, last year", "Part en retard, 1 an"),
        "mean_days_late": ("Mean days late", "Retard moyen"),
        "recent_mean_days_late": ("Recent mean days late", "Retard moyen récent"),
        "days_late_trend": ("Trend of delays", "Tendance des retards"),
        "median_days_late_recent": ("Typical recent delay", "Retard typique récent"),
        "max_days_late": ("Worst delay", "Pire retard"),
        "severe_late_share": ("Share over a month late", "Part à plus d'un mois"),
        "written_off_share": ("Share written off", "Part passée en perte"),
        "default_share": ("Share defaulted", "Part en défaut"),
        "dispute_rate": ("Dispute rate", "Taux de litige"),
        "instalment_share": ("Share paid in instalments", "Part payée en plusieurs fois"),
        "promise_kept_share": ("Promises kept", "Promesses tenues"),
        "reminded_share": ("Share reminded", "Part relancée"),
        "mean_days_reminder_to_payment": (
            "Days from reminder to payment",
            "Délai relance-paiement",
        ),
        "days_since_last_settlement": ("Days since last payment", "Jours depuis le paiement"),
        "invoices_issued": ("Earlier invoices", "Factures antérieures"),
        "days_since_first_invoice": ("Days since first invoice", "Ancienneté de la relation"),
        "open_invoices": ("Other open invoices", "Autres factures ouvertes"),
        "open_amount": ("Other open amount", "Autre encours"),
        "past_due_amount": ("Other amount past due", "Autre montant échu"),
        "past_due_1_30_amount": ("Past due 1–30 days", "Échu 1 à 30 j"),
        "past_due_31_60_amount": ("Past due 31–60 days", "Échu 31 à 60 j"),
        "past_due_61_90_amount": ("Past due 61–90 days", "Échu 61 à 90 j"),
        "past_due_over_90_amount": ("Past due over 90 days", "Échu plus de 90 j"),
        "past_due_invoices": ("Other invoices past due", "Autres factures échues"),
        "past_due_share": ("Share of balance past due", "Part échue de l'encours"),
        "reminders_received": ("Reminders received", "Relances reçues"),
        "hard_reminders_received": ("Formal notices received", "Mises en demeure reçues"),
        "days_since_customer_contact": ("Days since last contact", "Jours depuis le contact"),
        "country": ("Country", "Pays"),
        "industry": ("Industry", "Secteur"),
        "credit_limit": ("Credit limit", "Plafond de crédit"),
        "credit_utilisation": ("Credit limit used", "Plafond utilisé"),
        "key_account": ("Key account", "Compte clé"),
        "customer_tenure_days": ("Customer since", "Client depuis"),
    },
}


@dataclass(frozen=True)
class Words:
    """One page's words and formats: `t(key, **values)`, `label(kind, code)` and `f`."""

    language: str = "fr"
    currency: str = "EUR"

    @property
    def f(self) -> Formats:
        return Formats(self.language, self.currency)  # type: ignore[arg-type]

    @property
    def index(self) -> int:
        return LANGUAGES.index(self.language)  # type: ignore[arg-type]

    def t(self, key: str, /, **values: object) -> str:
        text = MESSAGES[key][self.index]
        return text.format(**values) if values else text

    def label(self, kind: str, code: object) -> str:
        """A code from the data in words; an unknown code (e.g. a scenario added to the policy)
        with its underscores turned to spaces."""
        if missing(code):
            return DASH
        entry = LABELS.get(kind, {}).get(str(code))
        return entry[self.index] if entry else str(code).replace("_", " ")

    def delay(self, days: object, short: bool = False) -> str:
        """Expected days late in words: "12 days late", "4 days early", "on time" (short:
        "12 d late", "12 j de retard", for tables)."""
        f = self.f
        if missing(days):
            return DASH
        value = round(float(days))
        if value == 0:
            return self.t("delay.on_time")
        if short:
            key = "delay.late_short" if value > 0 else "delay.early_short"
            return self.t(key, n=f.number(abs(value)))
        return self.t("delay.late" if value > 0 else "delay.early", days=f.days(abs(value)))

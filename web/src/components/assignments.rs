//! The Assignments view: open a bundled assignment, a file or a URL, read it, play its
//! scenarios, answer its tasks (predictions lock before their runs are shown), check the
//! answers with the core's grader (the same feedback as `livemig assignment check`), and
//! download the answers file to hand in.
//!
//! Loading, the answers document and grading are in [`crate::assignment_page`]; this file only
//! draws and wires events. The session lives in the app (a prop), so switching tabs keeps it.

use crate::assignment_page::{self, is_url, share_for_run, Draft};
use crate::components::play::PlayView;
use crate::loaded::Loaded;
use crate::markdown::{self, Block, Inline};
use crate::share::{ShareState, View};
use crate::state::player::{PlayerAction, PlayerStatus};
use livemig_core::assignment::{Assignment, ChoiceQ, Grade, RunRef, Task, TaskKind};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// What the Assignments view holds between renders (and tab switches).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    /// What is open: `bundled:NAME`, `url:URL` or `file:NAME`.
    pub key: Option<String>,
    /// The assignment, or why it could not be opened; None while it is being fetched.
    pub assignment: Option<Result<Rc<Assignment>, String>>,
    /// The student's answers so far.
    pub draft: Draft,
    /// The last check's grade, or why the answers could not be graded.
    pub grade: Option<Result<Grade, String>>,
    /// A check is running.
    pub checking: bool,
    /// The run this view loaded into the playground.
    pub played: Option<RunRef>,
}

/// Props of [`AssignmentsView`].
#[derive(Properties, PartialEq)]
pub struct AssignmentsProps {
    /// Current link state.
    pub share: ShareState,
    /// Change it (loads a scenario into the playground).
    pub set_share: Callback<ShareState>,
    /// The current run.
    pub loaded: Option<Rc<Loaded>>,
    /// Player status.
    pub status: PlayerStatus,
    /// Player requests.
    pub act: Callback<PlayerAction>,
    /// The session (owned by the app).
    pub session: UseStateHandle<Session>,
}

fn inline_html(parts: &[Inline]) -> Html {
    html! { { for parts.iter().map(|p| match p {
        Inline::Text(t) => html! { {t.clone()} },
        Inline::Code(t) => html! { <code>{t.clone()}</code> },
        Inline::Em(t) => html! { <em>{t.clone()}</em> },
        Inline::Strong(t) => html! { <strong>{t.clone()}</strong> },
    }) } }
}

/// Markdown as HTML, every piece of text a text node (nothing in the file becomes markup).
fn markdown_html(text: &str) -> Html {
    html! { { for markdown::parse(text).iter().map(|b| match b {
        Block::Heading(1, parts) => html! { <h3>{inline_html(parts)}</h3> },
        Block::Heading(_, parts) => html! { <h4>{inline_html(parts)}</h4> },
        Block::Paragraph(parts) => html! { <p>{inline_html(parts)}</p> },
        Block::List { ordered: true, items } => html! { <ol>{ for items.iter().map(|i| html! { <li>{inline_html(i)}</li> }) }</ol> },
        Block::List { ordered: false, items } => html! { <ul>{ for items.iter().map(|i| html! { <li>{inline_html(i)}</li> }) }</ul> },
        Block::Code(code) => html! { <pre><code>{code.clone()}</code></pre> },
    }) } }
}

async fn fetch_text(url: &str) -> Result<String, String> {
    let err = |e: wasm_bindgen::JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let window = web_sys::window().ok_or("no window")?;
    let response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(url)).await.map_err(err)?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "not a response".to_string())?;
    if !response.ok() {
        return Err(format!("HTTP status {}", response.status()));
    }
    let text = wasm_bindgen_futures::JsFuture::from(response.text().map_err(err)?).await.map_err(err)?;
    text.as_string().ok_or_else(|| "the response is not text".to_string())
}

/// The assignments view.
#[component]
pub fn AssignmentsView(props: &AssignmentsProps) -> Html {
    let session = props.session.clone();
    let reader = use_mut_ref(|| None::<gloo::file::callbacks::FileReader>);
    let url_text = use_state(String::new);
    let reduced_motion = use_memo((), |_| {
        web_sys::window().and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten()).is_some_and(|m| m.matches())
    });

    // Open what the link names (a bundled name or a URL), unless it is open already.
    {
        let session = session.clone();
        use_effect_with(props.share.assignment.clone(), move |wanted| {
            if let Some(v) = wanted.clone() {
                let key = if is_url(&v) { format!("url:{v}") } else { format!("bundled:{v}") };
                if session.key.as_deref() != Some(key.as_str()) {
                    if is_url(&v) {
                        session.set(Session { key: Some(key.clone()), ..Session::default() });
                        let session = session.clone();
                        wasm_bindgen_futures::spawn_local(async move {
                            let result = fetch_text(&v)
                                .await
                                .map_err(|e| format!("assignment {v}: cannot fetch it: {e}"))
                                .and_then(|text| assignment_page::from_text(&text, &v));
                            session.set(Session { key: Some(key), assignment: Some(result.map(Rc::new)), ..Session::default() });
                        });
                    } else {
                        let opened = assignment_page::bundled(&v).map(Rc::new);
                        session.set(Session { key: Some(key), assignment: Some(opened), ..Session::default() });
                    }
                }
            }
        });
    }

    let open = |name: &'static str| {
        let set_share = props.set_share.clone();
        let share = props.share.clone();
        Callback::from(move |_: MouseEvent| {
            set_share.emit(ShareState { assignment: Some(name.to_string()), view: View::Assignments, ..share.clone() })
        })
    };
    let on_file = {
        let session = session.clone();
        let set_share = props.set_share.clone();
        let share = props.share.clone();
        let reader = reader.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            let name = file.name();
            let session = session.clone();
            // A file cannot be named in the link: the link drops the assignment parameter.
            set_share.emit(ShareState { assignment: None, view: View::Assignments, ..share.clone() });
            if let Err(e) = assignment_page::check_input_file_size("assignment", &name, file.size()) {
                session.set(Session { key: Some(format!("file:{name}")), assignment: Some(Err(e)), ..Session::default() });
                input.set_value("");
                return;
            }
            let handle = gloo::file::callbacks::read_as_text(&gloo::file::File::from(file), move |text| {
                let result = match text {
                    Ok(text) => assignment_page::from_text(&text, &name),
                    Err(e) => Err(format!("assignment {name}: cannot read it: {e}")),
                };
                session.set(Session { key: Some(format!("file:{name}")), assignment: Some(result.map(Rc::new)), ..Session::default() });
            });
            *reader.borrow_mut() = Some(handle);
            input.set_value("");
        })
    };
    let on_url_input = {
        let url_text = url_text.clone();
        Callback::from(move |e: InputEvent| url_text.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
    };
    let on_url_open = {
        let set_share = props.set_share.clone();
        let share = props.share.clone();
        let url_text = url_text.clone();
        Callback::from(move |_: MouseEvent| {
            let u = url_text.trim().to_string();
            if !u.is_empty() {
                set_share.emit(ShareState { assignment: Some(u), view: View::Assignments, ..share.clone() });
            }
        })
    };

    let current = session.key.clone().unwrap_or_default();
    let picker = html! {
        <div class="assignment-open">
            <nav class="lesson-list" aria-label="bundled assignments">
                { for assignment_page::bundled_names().into_iter().map(|n| {
                    let title = assignment_page::bundled(n).map(|a| a.title).unwrap_or_else(|e| e);
                    let active = current == format!("bundled:{n}");
                    html! {
                        <button type="button" class={classes!("lesson-pick", active.then_some("active"))} data-testid={format!("assignment-{n}")} onclick={open(n)}>
                            <span class="lesson-pick-text"><span class="lesson-family">{n}</span>{title}</span>
                        </button>
                    }
                }) }
            </nav>
            <div class="actions small">
                <label class="file-button">{"Open an assignment file "}
                    <input type="file" accept=".toml,text/plain" data-testid="open-assignment" onchange={on_file} /></label>
                <input type="url" placeholder="or the URL of an assignment file" value={(*url_text).clone()} oninput={on_url_input} data-testid="assignment-url" />
                <button type="button" onclick={on_url_open} data-testid="open-assignment-url">{"Open URL"}</button>
            </div>
        </div>
    };

    let a = match &session.assignment {
        Some(Ok(a)) => a.clone(),
        Some(Err(e)) => {
            return html! {
                <section class="panel lessons-view assignments-view" aria-label="assignments">
                    <h2>{"Assignments"}</h2>
                    { picker }
                    <p class="error" role="alert" data-testid="assignment-error">{e.clone()}</p>
                </section>
            }
        }
        None if session.key.is_some() => {
            return html! {
                <section class="panel lessons-view assignments-view" aria-label="assignments">
                    <h2>{"Assignments"}</h2>{ picker }<p class="muted" role="status">{"Fetching the assignment…"}</p>
                </section>
            }
        }
        None => {
            return html! {
                <section class="panel lessons-view assignments-view" aria-label="assignments">
                    <h2>{"Assignments"}</h2>
                    <p class="muted">{"Pick an assignment, or open one your lecturer gave you. Answer its tasks, check them here (the same grade as `livemig assignment check`), and download the answers file to hand in."}</p>
                    { picker }
                </section>
            }
        }
    };

    let update = {
        let session = session.clone();
        Rc::new(move |f: &dyn Fn(&mut Session)| {
            let mut next = (*session).clone();
            f(&mut next);
            session.set(next);
        })
    };

    let play = |run: &RunRef| {
        let set_share = props.set_share.clone();
        let share = props.share.clone();
        let a = a.clone();
        let run = run.clone();
        let update = update.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(s) = share_for_run(&a, &run, &share) {
                let run = run.clone();
                update(&move |x: &mut Session| x.played = Some(run.clone()));
                set_share.emit(s);
            }
        })
    };

    let grade = session.grade.clone();
    let task_grade = |id: &str| grade.as_ref().and_then(|g| g.as_ref().ok()).and_then(|g| g.tasks.iter().find(|t| t.id == id).cloned());

    let task_html = |(i, t): (usize, &Task)| {
        let id = t.id.clone();
        let prediction = matches!(t.kind, TaskKind::Prediction(_));
        let locked = session.draft.locked.contains(&t.id);
        let value = session.draft.inputs.get(&t.id).cloned().unwrap_or_default();
        let set_value = {
            let update = update.clone();
            let id = id.clone();
            move |v: String| {
                let id = id.clone();
                update(&move |x: &mut Session| {
                    x.draft.inputs.insert(id.clone(), v.clone());
                })
            }
        };
        let choice: Option<&ChoiceQ> = match &t.kind {
            TaskKind::Choice(q) => Some(q),
            TaskKind::Prediction(inner) => match inner.as_ref() {
                TaskKind::Choice(q) => Some(q),
                _ => None,
            },
            _ => None,
        };
        let input = match choice {
            Some(q) => html! {
                <div class="choices" role="radiogroup" aria-label={format!("answer to {}", t.id)}>
                    { for q.options.iter().map(|o| {
                        let set_value = set_value.clone();
                        let oid = o.id.clone();
                        html! {
                            <label class={classes!("choice", value.eq_ignore_ascii_case(&o.id).then_some("chosen"))}>
                                <input type="radio" name={format!("task-{}", t.id)} checked={value.eq_ignore_ascii_case(&o.id)} disabled={locked}
                                    data-testid={format!("answer-{}-{}", t.id, o.id)}
                                    onchange={Callback::from(move |_: Event| set_value(oid.clone()))} />
                                {o.label.clone()}
                            </label>
                        }
                    }) }
                </div>
            },
            None => {
                let set_value = set_value.clone();
                html! {
                    <input type="text" class="answer-text" value={value.clone()} disabled={locked} placeholder={t.answer_hint()}
                        aria-label={format!("answer to {}", t.id)} data-testid={format!("answer-{}", t.id)}
                        oninput={Callback::from(move |e: InputEvent| set_value(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))} />
                }
            }
        };
        let lock = if prediction && !locked {
            let update = update.clone();
            let id = id.clone();
            html! { <button type="button" class="primary" disabled={value.trim().is_empty()} data-testid={format!("lock-{}", t.id)}
            onclick={Callback::from(move |_: MouseEvent| { let id = id.clone(); update(&move |x: &mut Session| { x.draft.locked.insert(id.clone()); }) })}>
            {"Lock in my prediction"}</button> }
        } else if prediction {
            html! { <span class="locked" data-testid={format!("locked-{}", t.id)}>{"Prediction locked"}</span> }
        } else {
            html! {}
        };
        let hidden = session.draft.run_hidden(&a, &t.id);
        let runs = t.runs();
        let run_buttons = html! { { for runs.iter().map(|r| html! {
            <button type="button" disabled={hidden} onclick={play(r)} data-testid={format!("run-{}-{}-{}", t.id, r.algorithm, r.scenario)}
                title={if hidden { "lock your prediction first" } else { "load this run into the playground below" }}>
                {format!("Run {} on {}", r.algorithm, r.scenario)}</button>
        }) } };
        let result = task_grade(&t.id).map(|g| {
            html! {
                <div class={classes!("feedback", if g.passed { "right" } else { "wrong" })} data-testid={format!("grade-{}", t.id)} data-passed={g.passed.to_string()}>
                    <strong>{if g.passed { "Pass" } else { "Fail" }}</strong>{" "}
                    <span data-testid={format!("feedback-{}", t.id)}>{g.feedback.clone()}</span>
                </div>
            }
        });
        html! {
            <article class="lesson task" data-testid={format!("task-{}", t.id)} data-kind={t.kind_name()}>
                <p class="lesson-family">{format!("{}. {} · {} · {} point{}", i + 1, t.id, t.kind_name(), livemig_core::units::significant(t.points), if t.points == 1.0 { "" } else { "s" })}</p>
                <div class="prompt">{markdown_html(&t.question)}</div>
                <div class="question">
                    { input }
                    <p class="muted small">{format!("Answer: {}.", t.answer_hint())}{ if hidden { " Lock your prediction to unlock its run." } else { "" } }</p>
                    <div class="actions">{ lock }{ run_buttons }</div>
                </div>
                { for result }
            </article>
        }
    };

    let on_student = {
        let update = update.clone();
        Callback::from(move |e: InputEvent| {
            let v = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
            update(&move |x: &mut Session| x.draft.student = v.clone())
        })
    };
    let on_check = {
        let session = session.clone();
        let a = a.clone();
        Callback::from(move |_: MouseEvent| {
            let mut next = (*session).clone();
            next.draft.lock_answered(&a);
            next.checking = true;
            session.set(next.clone());
            // Let "Checking…" render before the simulations run on this thread.
            let session = session.clone();
            let a = a.clone();
            gloo::timers::callback::Timeout::new(20, move || {
                let mut done = next.clone();
                done.grade = Some(done.draft.grade(&a));
                done.checking = false;
                session.set(done);
            })
            .forget();
        })
    };
    let download_status = use_state(|| None::<Result<String, String>>);
    let answers_reader = use_mut_ref(|| None::<gloo::file::callbacks::FileReader>);
    let on_answers_file = {
        let session = session.clone();
        let a = a.clone();
        let status = download_status.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            let name = file.name();
            if let Err(e) = assignment_page::check_input_file_size("answers", &name, file.size()) {
                status.set(Some(Err(e)));
                input.set_value("");
                return;
            }
            let (session, a, status) = (session.clone(), a.clone(), status.clone());
            let handle = gloo::file::callbacks::read_as_text(&gloo::file::File::from(file), move |text| {
                let draft =
                    text.map_err(|e| format!("answers {name}: cannot read it: {e}")).and_then(|t| Draft::from_answers_file(&a, &t, &name));
                match draft {
                    Ok(draft) => {
                        session.set(Session { draft, grade: None, checking: false, ..(*session).clone() });
                        status.set(Some(Ok(format!("Opened {name}."))));
                    }
                    Err(e) => status.set(Some(Err(e))),
                }
            });
            *answers_reader.borrow_mut() = Some(handle);
            input.set_value("");
        })
    };
    let on_download = {
        let a = a.clone();
        let draft = session.draft.clone();
        let status = download_status.clone();
        Callback::from(move |_: MouseEvent| {
            let stem = a.name.trim_end_matches(".toml").rsplit('/').next().unwrap_or("assignment").to_string();
            let file = format!("{stem}-answers.toml");
            status.set(Some(
                crate::dom::download(&file, "application/toml", &draft.answers_toml(&a))
                    .map(|()| format!("Saved {file}: hand it in, or grade it with livemig assignment check.")),
            ));
        })
    };

    let summary = match &grade {
        Some(Ok(g)) => html! {
            <p class={classes!("grade-total", if g.passed { "ok" } else { "bad" })} data-testid="grade-total" data-passed={g.passed.to_string()}>
                {format!("{} of {} points: {}", livemig_core::units::significant(g.points), livemig_core::units::significant(g.max_points),
                    if g.passed { "every task passed" } else { "not every task passed yet" })}
            </p>
        },
        Some(Err(e)) => html! { <p class="error" role="alert" data-testid="grade-error">{e.clone()}</p> },
        None => html! {},
    };

    let playing = match (&session.played, &props.loaded) {
        (Some(run), Some(l)) => {
            !l.from_file
                && a.scenario(&run.scenario).is_some_and(|s| {
                    let mut sc = s.scenario.clone();
                    sc.migration.algorithm = run.algorithm.clone();
                    sc == l.scenario
                })
        }
        _ => false,
    };
    let player = if playing {
        let run = session.played.clone().expect("playing");
        html! {
            <section class="assignment-player" data-testid="assignment-player">
                <h3>{format!("Playing {} on {}", run.algorithm, run.scenario)}</h3>
                <PlayView loaded={props.loaded.clone()} status={props.status} act={props.act.clone()} reduced_motion={*reduced_motion} />
            </section>
        }
    } else {
        html! {}
    };

    html! {
        <section class="panel lessons-view assignments-view" aria-label="assignments">
            <h2>{"Assignments"}</h2>
            { picker }
            <article class="lesson" data-testid="assignment" data-name={a.name.clone()}>
                <h3 data-testid="assignment-title">{a.title.clone()}</h3>
                { if a.author.is_empty() { html! {} } else { html! { <p class="muted small">{format!("by {}", a.author)}</p> } } }
                <div class="lesson-text" data-testid="assignment-intro">{markdown_html(&a.intro)}</div>
                <h4>{"Scenarios"}</h4>
                <ul class="assignment-scenarios">
                    { for a.scenarios.iter().map(|s| html! {
                        <li><code>{s.name.clone()}</code>{": "}{if s.description.is_empty() { s.scenario.name.clone() } else { s.description.clone() }}
                            <span class="muted small">{format!(" ({})", s.origin)}</span></li>
                    }) }
                </ul>
            </article>
            { for a.tasks.iter().enumerate().map(task_html) }
            <div class="assignment-submit actions">
                <label>{"Your name "}<input type="text" value={session.draft.student.clone()} oninput={on_student} data-testid="student-name" /></label>
                <button type="button" class="primary" onclick={on_check} disabled={session.checking} data-testid="check-answers">
                    {if session.checking { "Checking…" } else { "Check my answers" }}</button>
                <button type="button" onclick={on_download} data-testid="download-answers">{"Download answers"}</button>
                <label class="file-button small">{"Open an answers file "}
                    <input type="file" accept=".toml,text/plain" data-testid="open-answers" onchange={on_answers_file} /></label>
                { for download_status.as_ref().map(|s| match s {
                    Ok(m) => html! { <span class="muted small" data-testid="download-status">{m.clone()}</span> },
                    Err(e) => html! { <span class="error" role="alert" data-testid="download-status">{e.clone()}</span> },
                }) }
            </div>
            { summary }
            { player }
        </section>
    }
}
